"""The one result every signal table returns."""

from __future__ import annotations

from dataclasses import dataclass

from tlsmatrix.clients.base import Reason


@dataclass(frozen=True)
class Signal:
    """What a client's structured signal says, in the shared vocabulary.

    ``token`` is the structured value that decided it (``X509_V_ERR_CERT_HAS_EXPIRED``,
    ``ERR_CERT_DATE_INVALID``, ``GNUTLS_CERT_SIGNER_NOT_FOUND`` ...), kept for the detail.
    The flags tell the harness where the client was vague, so it decides from the chain:

    - ``issuer_unknown``: only "no issuer found" (Observation.issuer_unknown).
    - ``certificate_invalid``: rejected without a cause (Observation.certificate_invalid).
    - ``date_ambiguous``: a date is wrong but the client does not say which (Chromium's
      ERR_CERT_DATE_INVALID): expired or not yet valid follows from the chain's dates.
    - ``after_handshake``: the failure came after the certificate was accepted (an HTTP
      error, a reset after Finished); the certificate verdict is an accept.
    """

    reason: Reason
    token: str
    verify_code: int | None = None
    issuer_unknown: bool = False
    certificate_invalid: bool = False
    date_ambiguous: bool = False
    after_handshake: bool = False
