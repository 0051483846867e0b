"""An adapter shipped outside tlsmatrix: the real wget adapter under the name
``wget-plugin``. A plugin needs only ``tlsmatrix.clients.base`` (the contract); this one reuses an
adapter too, to stay small. It is found through its entry point, never imported by name."""

from __future__ import annotations

from tlsmatrix.clients.wget import WgetClient


class WgetPluginClient(WgetClient):
    """wget, registered by a third-party distribution."""

    name = "wget-plugin"


__all__ = ["WgetPluginClient"]
