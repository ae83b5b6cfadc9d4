"""A stand-in for the release host: an HTTP server on 127.0.0.1 that the test starts, serving
given bytes at given paths (404 for anything else), counting requests per path and, for the
interrupted-download tests, streaming a file slowly. Point ``OCSEG_ZOO_URL`` at :attr:`url`."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    data: bytes
    delay: float = 0.0             # seconds between chunks
    chunk: int = 1 << 16
    content_type: str = "application/octet-stream"


class ReleaseServer:
    """``server.add("/tag/file.pth", data)``; ``server.requests["/tag/file.pth"]`` counts GETs;
    ``server.sending`` is set once a response body has started."""

    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: Counter[str] = Counter()
        self.sending = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                owner.requests[self.path] += 1
                served = owner.files.get(self.path)
                if served is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", served.content_type)
                self.send_header("Content-Length", str(len(served.data)))
                self.end_headers()
                try:
                    for start in range(0, len(served.data), served.chunk):
                        self.wfile.write(served.data[start: start + served.chunk])
                        self.wfile.flush()
                        owner.sending.set()
                        time.sleep(served.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass                    # the client went away (a killed download)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, data: bytes, **options) -> None:
        self.files[path] = Served(data, **options)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens: a download from it fails as offline."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
