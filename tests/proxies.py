"""Loopback proxies that let a test break the network at a chosen moment.

`HoldingProxy` sits in front of a real `mlflow server` and holds the first request that
matches, so a test can kill the bot while it waits on that call. `TcpProxy` sits in front of
PostgreSQL and can be cut (every connection dropped, new ones refused) and restored.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.helpers import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class HoldingProxy:
    """Forwards HTTP to `upstream`; the first request `matches` accepts is held.

    forward_first=False: held before it reaches upstream (the call never happens).
    forward_first=True: forwarded, then the answer is held (the call happened, unanswered).
    `held` is set when the request is being held; `release()` lets it go (the connection is
    closed without an answer).
    """

    def __init__(
        self, upstream: str, matches: Callable[[str, str], bool], *, forward_first: bool
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.matches = matches
        self.forward_first = forward_first
        self.held = threading.Event()
        self._release = threading.Event()
        self._armed = True
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> HoldingProxy:
        self._thread.start()
        return self

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _take_hold(self, method: str, path: str) -> bool:
        with self._lock:
            if self._armed and self.matches(method, path):
                self._armed = False
                return True
            return False

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        return self._client.request(method, self.upstream + path, headers=headers, content=body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if proxy._take_hold(self.command, self.path):
                    if proxy.forward_first:
                        proxy._forward(self.command, self.path, headers, body)
                    proxy.held.set()
                    proxy._release.wait(timeout=120)
                    self.close_connection = True
                    return
                upstream = proxy._forward(self.command, self.path, headers, body)
                self.send_response(upstream.status_code)
                for k, v in upstream.headers.items():
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

        return Handler


class TcpProxy:
    """A TCP relay to `upstream_port` on 127.0.0.1 that can be cut and restored."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Drop every connection and refuse new ones (the database "went away")."""
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        for s in ([listener] if listener else []) + conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
