"""Capture a live server's chain into a portable case and replay it offline on a twin
PKI (``tlsmatrix capture``, ``tlsmatrix lab replay``): :mod:`.case` (the format),
:mod:`.capture` (recording), :mod:`.twin` (re-issuing), :mod:`.serve` (the replay lab),
:mod:`.limbo` (x509-limbo export)."""
