"""Serves the sandbox app on a loopback port, one thread per connection, HTTP/1.1 keep-alive.

Faults are carried out on the socket: a delay holds the answer back, a drop closes the
connection without writing a byte.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.hostile import BodyStream
from metricsync.sandbox.http import Request, Response


def _handler_for(app: SandboxApp, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def _serve(self) -> None:
            reply = app.serve(self._request())
            # a stopping server gives up on held-back answers rather than keep threads asleep
            if reply.delay_s and stopping.wait(reply.delay_s):
                self.close_connection = True
                return
            if reply.response is None:
                self.close_connection = True
                return
            if reply.stream is not None:
                self._write_stream(reply.response, reply.stream)
                return
            self._write(reply.response)

        def _request(self) -> Request:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host, port = self.connection.getsockname()[:2]
            return Request.build(
                self.command,
                self.path,
                dict(self.headers.items()),
                body,
                client=self.client_address[0],
                base_url=f"http://{self.headers.get('Host') or f'{host}:{port}'}",
            )

        def _write(self, response: Response) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _write_stream(self, response: Response, stream: BodyStream) -> None:
            """Headers first, then each piece after its interval, until the client hangs up."""
            self.close_connection = True
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(stream.length))
            self.end_headers()
            try:
                for piece in stream.pieces():
                    if stream.interval_s and stopping.wait(stream.interval_s):
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()
            except ConnectionError:
                pass  # the client gave up, as it should

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connecting at once must not wait for SYN retries

    def handle_error(self, request: object, client_address: object) -> None:
        # a client that gave up (timeout, drop) leaves a broken socket: expected, not news
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class SandboxServer:
    """`with SandboxServer(app) as server:` serves on `server.url` until the block ends."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._stopping = threading.Event()
        self.httpd = _HTTPServer((host, port), _handler_for(app, self._stopping))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        # a short poll makes stop() return at once instead of after up to half a second
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
