"""The slow external API the example app calls, on loopback: every answer takes `--delay` seconds.

It serves many requests at once (one thread each), so any serialisation measured by the test comes from
the app, not from here. `GET /stats` tells how many requests were in flight at most since `POST /reset`;
`POST /delay` with `{"seconds": S}` changes how long a slow call takes.
Standard library only. Writes its port to `--port-file` once it listens (port 0 = any free port).
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"in_flight": 0, "max_in_flight": 0, "served": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 1.5

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _slow(self, body: dict) -> None:
        with lock:
            state["in_flight"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        try:
            time.sleep(self.delay)
        finally:
            with lock:
                state["in_flight"] -= 1
                state["served"] += 1
        self._send(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            with lock:
                self._send(dict(state))
        elif self.path == "/quote":
            self._slow({"quote": 42})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/sign":
            self._slow({"id": payload.get("id"), "signature": "s1gn3d"})
        elif self.path == "/reset":
            with lock:
                state.update(in_flight=0, max_in_flight=0, served=0)
            self._send(dict(state))
        elif self.path == "/delay":
            # `{"seconds": S}`: every slow call from now on takes S seconds (`--delay` until then).
            Handler.delay = float(payload["seconds"])
            self._send({"delay": Handler.delay})
        else:
            self.send_error(404)

    def log_message(self, fmt: str, *args) -> None:  # one line per request, with a timestamp
        print(f"{time.strftime('%H:%M:%S')} {self.address_string()} {fmt % args}", flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=1.5)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    Handler.delay = args.delay
    server = Server(("127.0.0.1", args.port), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    print(f"slow server on 127.0.0.1:{server.server_address[1]}, delay {args.delay}s", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
