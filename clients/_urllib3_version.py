"""urllib3 drops its socket when a server says ``Connection: close``, before a caller can
ask which TLS version was negotiated; these classes note it right after the handshake."""

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

    return RecordingPool
