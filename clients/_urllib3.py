"""What the urllib3-based clients (urllib3, truststore) share: one GET through a pool that
notes each handshake's TLS version (urllib3 drops its socket when a server says
``Connection: close``, before a caller could ask)."""

from __future__ import annotations

from typing import Any


def recording_pool_class(versions: list[str | None]) -> Any:
    """An HTTPSConnectionPool subclass whose connections append their TLS version."""
    import urllib3
    from urllib3.connection import HTTPSConnection

    class RecordingConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            sock = getattr(self, "sock", None)
            versions.append(sock.version() if sock is not None else None)

    class RecordingPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = RecordingConnection

    # urllib3 writes the pool's class name into its error text: name them as urllib3's own,
    # so a detail reads what plain urllib3 says rather than our subclass.
    RecordingConnection.__name__ = RecordingConnection.__qualname__ = "HTTPSConnection"
    RecordingPool.__name__ = RecordingPool.__qualname__ = "HTTPSConnectionPool"
    return RecordingPool


def get_status(target: Any, ssl_context: Any, timeout: float, versions: list[str | None]) -> int:
    """One GET of target.path: connect to target.address, SNI and name check for
    target.ascii_host, no retries, no redirects; returns the HTTP status."""
    import urllib3

    pool = recording_pool_class(versions)(
        target.address,
        target.port,
        server_hostname=target.ascii_host,
        cert_reqs="CERT_REQUIRED",
        ssl_context=ssl_context,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
    )
    with pool:
        response = pool.urlopen(
            "GET",
            target.path,
            headers={"Host": target.ascii_host},
            redirect=False,
            preload_content=False,
        )
        response.release_conn()
        return response.status
