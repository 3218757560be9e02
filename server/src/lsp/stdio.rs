//! The server's stdin and stdout. stdin is read with blocking reads on the guard's reader thread
//! (`input`), never on the async thread. tokio's own `stdout()` hands every write to a thread of its
//! blocking pool and waits for it: two thread switches per message, a good part of an edit's round
//! trip. When stdout is a pipe or a socket (as an editor spawns a server: Helix uses pipes, VS Code and
//! Neovim socket pairs) that no other standard stream shares, it is switched to non-blocking mode and
//! polled by the runtime's own event loop instead. Its previous mode is restored when the server ends,
//! as the file description is shared with the editor. Anything else (a terminal, a file, another
//! platform) keeps tokio's stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// The server's input: stdin, read with blocking reads (on the guard's reader thread). Should its
/// description be in non-blocking mode (another process may share it), a read waits in `poll(2)`.
pub struct Stdin;

impl io::Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match io::stdin().read(buf) {
                #[cfg(unix)]
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fd = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
                    // SAFETY: poll reads and fills the one pollfd it is given.
                    unsafe {
                        libc::poll(&mut fd, 1, -1);
                    }
                }
                other => return other,
            }
        }
    }
}

/// The server's output: stdout.
pub enum Output {
    #[cfg(unix)]
    Polled(unix::Polled),
    Tokio(tokio::io::Stdout),
}

/// stdout, polled when it is a pipe or a socket. Must be called inside the runtime.
pub fn open() -> Output {
    #[cfg(unix)]
    {
        use tokio::io::Interest;
        // Only a descriptor that no other stream of this process shares: the flags belong to the file
        // description, and a blocking write to stderr (logs), a blocking read of stdin or a restore on
        // drop must not meet a descriptor in non-blocking mode.
        let alone = |fd: i32| (0..3).filter(|&other| other != fd).all(|other| !unix::same_file(fd, other));
        let output = alone(1).then(|| unix::Polled::new(1, Interest::WRITABLE)).flatten().map(Output::Polled);
        tracing::debug!("stdout {}", if output.is_some() { "polled" } else { "through blocking threads" });
        output.unwrap_or_else(|| Output::Tokio(tokio::io::stdout()))
    }
    #[cfg(not(unix))]
    Output::Tokio(tokio::io::stdout())
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
    use std::io::{self, Write};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    use std::task::{Context, Poll, ready};

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A duplicate of stdout in non-blocking mode, registered with the runtime's event loop.
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
