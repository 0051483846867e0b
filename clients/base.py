"""The adapter contract and the vocabulary that adapters and the harness share.

Everything here is plain data (frozen dataclasses and string enums) so that an adapter,
ours or a third party's, needs nothing but this module to take part in a matrix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable


class Verdict(enum.StrEnum):
    """What a client decided about a server. JSON uses the values."""

    ACCEPT = "accept"
    REJECT = "reject"
    ERROR = "error"  # no TLS verdict reached: refused, DNS, not TLS, adapter crash
    TIMEOUT = "timeout"
    SKIPPED = "skipped"  # client unavailable


class Reason(enum.StrEnum):
    """Normalized reasons: the same failure has one name whatever the client said."""

    OK = "ok"
    # Chain building
    INCOMPLETE_CHAIN = "incomplete_chain"  # an intermediate is missing: not sent, not stored
    UNTRUSTED_ROOT = "untrusted_root"  # the path ends at an anchor this client does not trust
    UNKNOWN_ISSUER = "unknown_issuer"  # an issuer is missing; intermediate or root, unknown
    SELF_SIGNED = "self_signed"
    # Validity
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    # Names
    HOSTNAME_MISMATCH = "hostname_mismatch"
    # Certificate rules
    WEAK_KEY = "weak_key"
    WEAK_SIGNATURE = "weak_signature"
    BAD_SIGNATURE = "bad_signature"
    NOT_A_CA = "not_a_ca"
    PATH_LENGTH = "path_length"
    NAME_CONSTRAINTS = "name_constraints"
    WRONG_USAGE = "wrong_usage"  # key usage / extended key usage
    CRITICAL_EXTENSION = "critical_extension"  # an unhandled critical extension
    MALFORMED_CERTIFICATE = "malformed_certificate"
    INVALID_CERTIFICATE = "invalid_certificate"  # "invalid", and the chain shows no one cause
    # TLS (never a certificate rule)
    HANDSHAKE_FAILURE = "handshake_failure"
    PROTOCOL_VERSION = "protocol_version"
    NOT_TLS = "not_tls"
    CONNECTION_REFUSED = "connection_refused"
    DNS_FAILURE = "dns_failure"
    TIMEOUT = "timeout"
    CLIENT_UNAVAILABLE = "client_unavailable"
    CLIENT_ERROR = "client_error"


# Reasons that mean "reached the server, spoke TLS, and refused its certificate".
CERTIFICATE_REASONS = frozenset(
    {
        Reason.INCOMPLETE_CHAIN,
        Reason.UNTRUSTED_ROOT,
        Reason.UNKNOWN_ISSUER,
        Reason.SELF_SIGNED,
        Reason.EXPIRED,
        Reason.NOT_YET_VALID,
        Reason.HOSTNAME_MISMATCH,
        Reason.REVOKED,
        Reason.WEAK_KEY,
        Reason.WEAK_SIGNATURE,
        Reason.BAD_SIGNATURE,
        Reason.NOT_A_CA,
        Reason.PATH_LENGTH,
        Reason.NAME_CONSTRAINTS,
        Reason.WRONG_USAGE,
        Reason.CRITICAL_EXTENSION,
        Reason.MALFORMED_CERTIFICATE,
        Reason.INVALID_CERTIFICATE,
    }
)


class ReasonSource(enum.StrEnum):
    """Where a result's reason came from. JSON uses the values."""

    CLIENT = "client"  # the client's own structured signal named it
    CHAIN = "chain"  # the client said only "issuer unknown"/"invalid"; the chain decided
    INFERRED = "inferred"  # no decisive evidence: provisional, and the explanation says so


def verdict_for(reason: Reason) -> Verdict:
    """The verdict a reason implies; adapters use it so the two never disagree."""
    if reason is Reason.OK:
        return Verdict.ACCEPT
    if reason is Reason.TIMEOUT:
        return Verdict.TIMEOUT
    if reason is Reason.CLIENT_UNAVAILABLE:
        return Verdict.SKIPPED
    if reason in CERTIFICATE_REASONS or reason in (
        Reason.HANDSHAKE_FAILURE,
        Reason.PROTOCOL_VERSION,
    ):
        return Verdict.REJECT
    return Verdict.ERROR


# Proxy variables: probes talk to the target itself, so every client runs without them.
PROXY_ENV_VARS: tuple[str, ...] = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)

# THE list of environment variables that change some client's trust or route: every
# built-in adapter's ClientInfo.env_vars is in it (a test checks), reports show the ones
# set, tests start without any of them, and an explicit-bundle probe runs without them.
TRUST_ENV_VARS: tuple[str, ...] = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "WGETRC",
    "GIT_SSL_CAINFO",
    *PROXY_ENV_VARS,
)


@dataclass(frozen=True)
class Target:
    """One endpoint: where to connect and which name to expect.

    ``host`` is the name as the user wrote it (IDN shown as written, lower-cased, no
    brackets for IPv6); ``connect_to`` is the address from ``--resolve`` (connect there,
    but send SNI and check the name ``host``), or None to resolve ``host``.
    Build targets with :func:`tlsmatrix.runner.targets.parse_target`, which validates them.
    """

    host: str
    port: int = 443
    path: str = "/"
    connect_to: str | None = None

    @property
    def ascii_host(self) -> str:
        """The host as sent on the wire: punycode for IDN, no trailing-dot change."""
        if _is_ip(self.host):
            return self.host
        try:
            return self.host.encode("idna").decode("ascii")
        except UnicodeError:
            return self.host

    @property
    def is_ip(self) -> bool:
        return _is_ip(self.host)

    @property
    def address(self) -> str:
        """Where the TCP connection goes."""
        return self.connect_to or self.ascii_host

    @property
    def url(self) -> str:
        """The https URL with the wire host (IPv6 in brackets)."""
        return f"https://{_bracket(self.ascii_host)}:{self.port}{self.path}"

    @property
    def connect_url(self) -> str:
        """The URL naming where to connect (the --resolve address); clients given it send
        SNI and check the certificate for ``ascii_host`` separately."""
        return f"https://{_bracket(self.address)}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        return f"{_bracket(self.ascii_host)}:{self.port}"

    @property
    def name(self) -> str:
        """How the target is shown and keyed in results (host as written)."""
        shown = f"https://{_bracket(self.host)}:{self.port}{self.path}"
        return shown if self.path != "/" else shown[:-1]

    def __str__(self) -> str:
        return self.name


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


TrustKind = Literal["native", "bundle"]


@dataclass(frozen=True)
class Trust:
    """What a probe is asked to trust: the client's native default or one PEM bundle."""

    kind: TrustKind = "native"
    path: str | None = None

    @classmethod
    def native(cls) -> Trust:
        return cls("native", None)

    @classmethod
    def bundle(cls, path: str) -> Trust:
        return cls("bundle", path)

    @property
    def is_native(self) -> bool:
        return self.kind == "native"


@dataclass(frozen=True)
class TrustUsed:
    """What a client really trusted in a probe, stated so a person can check it.

    ``origin`` says where that came from: ``--ca-file``/``--trust`` for an explicit bundle,
    the environment variable that redirected the client, or its built-in default
    (``certifi``, ``OpenSSL default paths``, ``bundled Mozilla store`` ...).
    ``path`` is a file or directory when there is one to look into.
    """

    kind: TrustKind
    origin: str
    path: str | None = None

    def describe(self) -> str:
        where = self.path or "built-in store"
        return where if self.kind == "bundle" else f"{where} ({self.origin})"

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "origin": self.origin, "path": self.path}


@dataclass(frozen=True)
class ClientInfo:
    """What a client is and how it behaves, as far as the verdicts depend on it."""

    name: str
    available: bool
    unavailable_reason: str | None = None
    version: str | None = None
    tls_library: str | None = None
    tls_library_version: str | None = None
    native_trust: TrustUsed | None = None  # what "native" means here, given the environment
    env_vars: tuple[str, ...] = ()  # variables that change its trust source, in precedence order
    fetches_aia: bool = False  # completes a missing intermediate from the AIA caIssuers URL
    kind: Literal["in-process", "subprocess"] = "in-process"
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Certificate policy, as far as verdicts depend on it. The defaults are OpenSSL 3 at
    # security level 2: RSA under 2048 bits and SHA-1 signatures refused, no revocation.
    min_rsa_bits: int = 2048
    rejects_sha1: bool = True
    checks_revocation: bool = False
    # Path building. ``partial_chain``: an intermediate in the trust store is an anchor
    # (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN; off in OpenSSL's default, on in libcurl, Java,
    # GnuTLS, Chromium). ``strict_x509``: X509_V_FLAG_X509_STRICT-like checks (Python 3.13).
    # ``aia_user_agent``: the User-Agent its AIA fetches carry, to tie a fetch to a probe.
    partial_chain: bool = False
    strict_x509: bool = False
    aia_user_agent: str | None = None
    # Whether the leaf's keyUsage/extendedKeyUsage must allow a TLS server (OpenSSL's
    # purpose check, Java, Node, Chromium, gnutls-cli); wget asks GnuTLS for no purpose.
    checks_leaf_usage: bool = True
    # How many of its probes may run at once (None: as many as --jobs). Set by runtimes
    # whose every probe costs a core for a while (a JVM, Node, a browser), from their
    # measured cost; the runner also keeps them to half of --jobs.
    max_parallel: int | None = None


@dataclass(frozen=True)
class Observation:
    """One probe's outcome. The runner turns every outcome, even a crash, into one."""

    target: str
    client: str
    verdict: Verdict
    reason: Reason
    detail: str = ""
    verify_code: int | None = None
    tls_version: str | None = None
    elapsed_ms: float = 0.0
    trust: TrustUsed | None = None
    explanation: str = ""
    reason_source: ReasonSource = ReasonSource.CLIENT
    # True when the client said only "issuer unknown" (Java, GnuTLS, Chromium; OpenSSL's
    # codes 2/20/21). Whether that was a missing intermediate, an untrusted root or a
    # self-signed leaf follows from the captured chain: the harness refines ``reason``.
    issuer_unknown: bool = False
    # True when the client rejected the certificate without saying why (Chromium's
    # ERR_CERT_INVALID); the harness names the reason from the captured chain's issues.
    certificate_invalid: bool = False
    # The probe's wall-clock window (time.time()), set by the runner: an AIA server log
    # entry belongs to this probe only if it falls inside it.
    started_at: float | None = None
    finished_at: float | None = None


@runtime_checkable
class Client(Protocol):
    """One real TLS client. ``probe`` must not raise for anything the server does, must
    honour ``timeout`` as well as the client allows (the runner enforces it from outside
    too) and must never touch process-global state: probes run concurrently.

    A client with a long-lived runtime (a JVM, Node, a browser) may also have
    ``warm(target, trust) -> None``: start what its probe of ``target`` with ``trust``
    would start, now. The runner calls it in the background before the first probe; it
    must not raise, and a failed start is left for the probe to report."""

    name: str

    def info(self) -> ClientInfo: ...

    def probe(self, target: Target, trust: Trust, timeout: float) -> Observation: ...
