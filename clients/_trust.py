"""What a client trusts: an explicit bundle, the variable that redirected it, OpenSSL's
default paths; TLS contexts built once per thread and trust source; and the store-free
context whose verify flags say a library's path-building policy."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from tlsmatrix.clients.base import Trust, TrustUsed

T = TypeVar("T")

# The variables OpenSSL's default verify paths honour, in precedence order.
OPENSSL_ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")

_CONTEXTS = threading.local()


@functools.cache
def empty_ca_dir() -> str:
    """An empty CA directory for this process (removed at exit): what a client is pointed
    at so that it reads no CA directory of its own."""
    path = tempfile.mkdtemp(prefix="tlsmatrix-empty-ca-")
    atexit.register(shutil.rmtree, path, True)
    return path


def policy_default_context() -> ssl.SSLContext:
    """``ssl.create_default_context()`` through the same code, minus reading the default
    store: an explicit (empty) CA directory takes the place of ``load_default_certs()``.
    Its verify flags and settings are the library's; only its trust is empty. Reading the
    system store costs ~45 ms of a core per context, and a client's info() only wants the
    flags."""
    return ssl.create_default_context(capath=empty_ca_dir())


def shared_context(kind: str, cafile: str | None, build: Callable[[], T]) -> T:
    """A TLS context built once per thread for (kind, trust file, trust environment) and
    reused, so a run parses each trust bundle once per worker rather than per probe.

    Per thread, because urllib3 and httpcore set ALPN on the context for each connection.
    It only carries trust and settings: no session is resumed, every probe verifies in
    full. A bundle file that changes (mtime, size) gets a new context."""
    env_file, env_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    key = (kind, cafile, _stamp(cafile), env_file, _stamp(env_file), env_dir)
    cache: dict[tuple[object, ...], object] | None = getattr(_CONTEXTS, "cache", None)
    if cache is None:
        cache = _CONTEXTS.cache = {}
    if key not in cache:
        if len(cache) > 32:  # many bundles in one run: keep the cache small
            cache.clear()
        cache[key] = build()
    return cache[key]  # type: ignore[return-value]


def _stamp(path: str | None) -> tuple[int, int] | None:
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def explicit_trust(trust: Trust) -> TrustUsed:
    assert trust.path is not None
    return TrustUsed("bundle", "explicit bundle", trust.path)


def trust_from_env(
    env: Mapping[str, str], variables: Sequence[str], default: TrustUsed
) -> TrustUsed:
    """The first of ``variables`` that is set (and non-empty) wins over ``default``."""
    for var in variables:
        value = env.get(var)
        if value:
            return TrustUsed("native", var, value)
    return default


def openssl_default_trust(env: Mapping[str, str]) -> TrustUsed:
    """OpenSSL's default verify paths as this process's OpenSSL sees them."""
    paths = ssl.get_default_verify_paths()
    if env.get(paths.openssl_cafile_env):
        return TrustUsed("native", paths.openssl_cafile_env, env[paths.openssl_cafile_env])
    if env.get(paths.openssl_capath_env):
        return TrustUsed("native", paths.openssl_capath_env, env[paths.openssl_capath_env])
    path = paths.cafile or paths.capath or paths.openssl_cafile
    return TrustUsed("native", "OpenSSL default paths", path)


def certifi_trust(env: Mapping[str, str], variables: Sequence[str]) -> TrustUsed:
    """certifi's bundle, unless one of ``variables`` redirects it (requests, httpx)."""
    import certifi

    return trust_from_env(env, variables, TrustUsed("native", "certifi", certifi.where()))


def first_existing(paths: Sequence[str]) -> str | None:
    """The first of ``paths`` that exists (a client's list of well-known CA files)."""
    return next((p for p in paths if os.path.exists(p)), None)


__all__ = [
    "OPENSSL_ENV_VARS",
    "certifi_trust",
    "explicit_trust",
    "first_existing",
    "openssl_default_trust",
    "shared_context",
    "trust_from_env",
]
