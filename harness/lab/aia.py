"""The lab's AIA and CRL HTTP server, which remembers who fetched what.

It serves the issuer certificates named in the lab's AIA URLs (``/intermediate.der``,
``/intermediate.pem``, ``/intermediate.p7c``, ``/root.der``, ...) and the CRLs
(``/intermediate.crl``, ``/root.crl``). Any other path answers 404; paths below
``/missing/`` are the lab's deliberate 404; paths below ``/hang/`` are accepted and never
answered (until ``max_hang`` seconds pass or the server stops). Every request is logged as
an :class:`AIARequest`, in memory and optionally as JSON lines.

``python -m tlsmatrix.lab.aia --dir DIR`` serves a directory written by
:func:`tlsmatrix.lab.export.export` (used by docker-compose.yml).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MISSING_PREFIX = "/missing/"
HANG_PREFIX = "/hang/"


@dataclass(frozen=True)
class AIARequest:
    """One request the AIA server received. ``status`` is None for a request it never
    answered (below /hang/)."""

    path: str
    time: float  # seconds since the epoch
    user_agent: str | None
    client: str  # "address:port"
    status: int | None
    method: str = "GET"


class AIAServer:
    """A threaded HTTP server for AIA/CRL downloads on ``host:port`` (0 = any free port).

    Use as a context manager or start()/stop(). ``url`` (with a trailing slash) is known
    from construction on, so certificates can name it before anything is published."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_file: str | Path | None = None,
        max_hang: float = 60.0,
        public_host: str | None = None,
    ) -> None:
        self._files: dict[str, tuple[bytes, str]] = {}
        self._log: list[AIARequest] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._log_file = Path(log_file) if log_file is not None else None
        self.max_hang = max_hang
        self._httpd = _Server((host, port), _handler_for(self))
        self.host = host
        self.port: int = self._httpd.server_address[1]
        shown = public_host or host
        self.url = f"http://{shown}:{self.port}/"
        self._thread: threading.Thread | None = None

    # --- content ----------------------------------------------------------------------

    def publish(self, path: str, body: bytes, content_type: str) -> None:
        """Serve ``body`` at ``path`` (leading slash added if missing)."""
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._files[path] = (body, content_type)

    def withdraw(self, path: str) -> None:
        """Stop serving ``path``: it answers 404 from now on."""
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._files.pop(path, None)

    def publish_all(self, files: Mapping[str, tuple[bytes, str]]) -> None:
        for path, (body, content_type) in files.items():
            self.publish(path, body, content_type)

    def publish_dir(self, directory: str | Path) -> None:
        """Serve every regular file directly inside ``directory`` under its name."""
        from tlsmatrix.lab.pki import CONTENT_TYPES

        for f in sorted(Path(directory).iterdir()):
            if f.is_file():
                ctype = CONTENT_TYPES.get(f.suffix, "application/octet-stream")
                self.publish("/" + f.name, f.read_bytes(), ctype)

    def paths(self) -> list[str]:
        with self._lock:
            return sorted(self._files)

    # --- log --------------------------------------------------------------------------

    def log(self) -> tuple[AIARequest, ...]:
        """Every request so far, oldest first."""
        with self._lock:
            return tuple(self._log)

    def fetches(self, path: str) -> tuple[AIARequest, ...]:
        """The requests for ``path`` (with or without the leading slash)."""
        if not path.startswith("/"):
            path = "/" + path
        return tuple(r for r in self.log() if r.path == path)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _record(self, entry: AIARequest) -> None:
        with self._lock:
            self._log.append(entry)
            if self._log_file is not None:
                with self._log_file.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(asdict(entry), sort_keys=True) + "\n")

    def _lookup(self, path: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(path)

    # --- life -------------------------------------------------------------------------

    def start(self) -> AIAServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and close the socket."""
        self._release.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> AIAServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler_for(server: AIAServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tlsmatrix-lab-aia/1"
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            if path.startswith(HANG_PREFIX):
                self._entry(path, None)
                # Hold the connection open without a byte of answer, bounded.
                server._release.wait(server.max_hang)
                self.close_connection = True
                return
            found = None if path.startswith(MISSING_PREFIX) else server._lookup(path)
            if found is None:
                body, ctype, status = b"not found\n", "text/plain", 404
            else:
                (body, ctype), status = found, 200
            # Logged before answering, so a client that has its answer finds it logged.
            self._entry(path, status)
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

        def _entry(self, path: str, status: int | None) -> None:
            host, port = self.client_address[:2]
            server._record(
                AIARequest(
                    path=path,
                    time=time.time(),
                    user_agent=self.headers.get("User-Agent"),
                    client=f"{host}:{port}",
                    status=status,
                    method=self.command,
                )
            )

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the structured log replaces stderr chatter

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve an exported AIA directory until interrupted (docker compose's aia service)."""
    parser = argparse.ArgumentParser(prog="python -m tlsmatrix.lab.aia")
    parser.add_argument("--dir", required=True, help="directory of .der/.pem/.p7c/.crl files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-file", help="append every request as a JSON line")
    args = parser.parse_args(argv)
    server = AIAServer(args.host, args.port, log_file=args.log_file)
    server.publish_dir(args.dir)
    with server:
        print(f"serving {len(server.paths())} files on {server.url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
