//! The server's stdin and stdout. tokio's own `stdin()`/`stdout()` hand every read and every write to
//! a thread of its blocking pool and wait for it: two thread switches per message each way, a good
//! part of an edit's round trip. When stdin and stdout are pipes or sockets (as an editor spawns a
//! server: Helix uses pipes, VS Code and Neovim socket pairs), they are switched to non-blocking mode
//! and polled by the runtime's own event loop instead, so a message is read, handled and answered on
//! one thread. Their previous mode is restored when the server ends, as the file descriptions are
//! shared with the editor. Anything else (a terminal, a file, another platform) keeps tokio's streams.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server's input: stdin.
pub enum Input {
    #[cfg(unix)]
    Polled(unix::Polled),
    Tokio(tokio::io::Stdin),
}

/// The server's output: stdout.
pub enum Output {
    #[cfg(unix)]
    Polled(unix::Polled),
    Tokio(tokio::io::Stdout),
}

/// stdin and stdout, polled when they are pipes or sockets. Must be called inside the runtime.
pub fn open() -> (Input, Output) {
    #[cfg(unix)]
    {
        use tokio::io::Interest;
        // Only descriptors that no other stream of this process shares: the flags belong to the file
        // description, and a blocking write to stderr (logs) or a restore on drop must not meet a
        // descriptor the other stream still polls.
        let alone = |fd: i32| (0..3).filter(|&other| other != fd).all(|other| !unix::same_file(fd, other));
        let input = alone(0).then(|| unix::Polled::new(0, Interest::READABLE)).flatten().map(Input::Polled);
        let output = alone(1).then(|| unix::Polled::new(1, Interest::WRITABLE)).flatten().map(Output::Polled);
        let mode = |polled: bool| if polled { "polled" } else { "through blocking threads" };
        tracing::debug!("stdin {}, stdout {}", mode(input.is_some()), mode(output.is_some()));
        (
            input.unwrap_or_else(|| Input::Tokio(tokio::io::stdin())),
            output.unwrap_or_else(|| Output::Tokio(tokio::io::stdout())),
        )
    }
    #[cfg(not(unix))]
    (Input::Tokio(tokio::io::stdin()), Output::Tokio(tokio::io::stdout()))
}

impl AsyncRead for Input {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Input::Polled(p) => p.poll_read(cx, buf),
            Input::Tokio(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Output {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            #[cfg(unix)]
            Output::Polled(p) => p.poll_write(cx, data),
            Output::Tokio(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Output::Polled(_) => Poll::Ready(Ok(())), // every write goes straight to the descriptor
            Output::Tokio(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Output::Polled(_) => Poll::Ready(Ok(())),
            Output::Tokio(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(unix)]
pub mod unix {
    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    use std::task::{Context, Poll, ready};

    use tokio::io::unix::AsyncFd;
    use tokio::io::{Interest, ReadBuf};

    /// A duplicate of stdin or stdout in non-blocking mode, registered with the runtime's event loop.
    pub struct Polled {
        fd: AsyncFd<File>,
        /// The descriptor's flags before, put back on drop.
        flags: libc::c_int,
    }

    impl Polled {
        /// `None` unless `fd` is a pipe or a socket that the runtime can poll.
        pub fn new(fd: RawFd, interest: Interest) -> Option<Polled> {
            // SAFETY: fstat and fcntl only read or set the flags of a descriptor this process owns;
            // `dup` gives the `File` its own descriptor, so dropping it never closes stdin or stdout,
            // and the `File` owns that descriptor for as long as the `AsyncFd` lives.
            unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd, &mut st) != 0 {
                    return None;
                }
                let kind = st.st_mode & libc::S_IFMT;
                if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
                    return None;
                }
                let flags = libc::fcntl(fd, libc::F_GETFL);
                if flags < 0 {
                    return None;
                }
                let dup = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3);
                if dup < 0 {
                    return None;
                }
                let file = File::from_raw_fd(dup);
                if libc::fcntl(dup, libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
                    return None;
                }
                match AsyncFd::register_with_interest(file, interest) {
                    Ok(fd) => Some(Polled { fd, flags }),
                    Err(_) => {
                        libc::fcntl(dup, libc::F_SETFL, flags);
                        None
                    }
                }
            }
        }

        pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            loop {
                let mut ready = ready!(self.fd.poll_read_ready(cx))?;
                let unfilled = buf.initialize_unfilled();
                match ready.try_io(|f| Read::read(&mut f.get_ref(), unfilled)) {
                    Ok(Ok(n)) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(Err(e)) => return Poll::Ready(Err(e)),
                    Err(_would_block) => continue,
                }
            }
        }

        pub fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            loop {
                let mut ready = ready!(self.fd.poll_write_ready(cx))?;
                match ready.try_io(|f| Write::write(&mut f.get_ref(), data)) {
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(result) => return Poll::Ready(result),
                    Err(_would_block) => continue,
                }
            }
        }
    }

    /// Whether descriptors `a` and `b` are open on the same file.
    pub fn same_file(a: RawFd, b: RawFd) -> bool {
        // SAFETY: fstat only fills the `stat` structs it is given.
        unsafe {
            let (mut x, mut y): (libc::stat, libc::stat) = (std::mem::zeroed(), std::mem::zeroed());
            libc::fstat(a, &mut x) == 0 && libc::fstat(b, &mut y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
        }
    }

    impl Drop for Polled {
        fn drop(&mut self) {
            // SAFETY: resets the flags of the descriptor this value owns (and so of the shared description).
            unsafe {
                libc::fcntl(self.fd.get_ref().as_raw_fd(), libc::F_SETFL, self.flags);
            }
        }
    }
}
