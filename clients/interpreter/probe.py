"""One TLS probe (or an info report) by a Python client library, run under ANOTHER Python.

tlsmatrix runs this file as a script (``python -I probe.py '<json>'``) with the interpreter
under test, in a private venv holding the library's pinned versions. It must therefore run
on Python 3.6+ and import nothing from tlsmatrix (like clients/node/probe.js for node).

It prints one JSON line. A failure is described by STRUCTURED fields only (exception class
names, verify_code, SSLError reason/library, errno, OpenSSL error tuples, the verify
callback's codes); the parent maps them to tlsmatrix's reasons.
"""

import errno as errno_module
import json
import platform
import select
import socket
import ssl
import sys
import time

# OpenSSL's X509_V_FLAG_X509_STRICT and X509_V_FLAG_PARTIAL_CHAIN (stable numbers; the ssl
# module only names them from Python 3.10 on).
X509_STRICT = 0x20
PARTIAL_CHAIN = 0x80000


class Deadline(Exception):
    """Our own timeout for the non-blocking pyOpenSSL loop (a class name the parent knows)."""


def main():
    args = json.loads(sys.argv[1])
    adapter = args["adapter"]
    out = {
        "adapter": adapter,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "ssl_openssl": ssl.OPENSSL_VERSION,
    }
    state = {}
    try:
        if args.get("mode") == "info":
            out.update(INFO[adapter]())
        else:
            out.update(PROBES[adapter](args, state))
            out["ok"] = True
    except Exception as exc:  # every failure becomes structured fields
        out["ok"] = False
        out["stage"] = "after_handshake" if "tls_version" in state else "before_handshake"
        out["errors"] = describe_chain(exc)
        if state.get("verify_errors"):
            out["verify_errors"] = state["verify_errors"]
    if state.get("tls_version"):
        out["tls_version"] = state["tls_version"]
    for key in ("tls_library_version", "verify_flags"):
        if state.get(key) is not None:
            out[key] = state[key]
    sys.stdout.write(json.dumps(out) + "\n")


# --- describing an exception ---------------------------------------------------------


def chain_of(exc):
    """The exception and everything it wraps (__cause__, __context__, .reason, args)."""
    seen, todo = [], [exc]
    while todo and len(seen) < 16:
        cur = todo.pop(0)
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        for nxt in (cur.__cause__, cur.__context__, getattr(cur, "reason", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
        todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
    return seen


def describe(exc):
    cls = type(exc)
    rec = {
        "class": cls.__name__,
        "module": cls.__module__,
        "mro": [c.__name__ for c in cls.__mro__],
        "message": str(exc)[:500],
    }
    for attr in ("verify_code", "verify_message", "reason", "library", "errno"):
        value = getattr(exc, attr, None)
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            rec[attr] = value
    args = getattr(exc, "args", ())
    # pyOpenSSL: SysCallError(errno, 'ECONNRESET'); Error([(lib, func, reason), ...])
    if len(args) == 2 and isinstance(args[0], int) and "errno" not in rec:
        rec["errno"] = args[0]
    if args and isinstance(args[0], list):
        rec["openssl_errors"] = [
            [str(part) for part in item] for item in args[0] if isinstance(item, tuple)
        ]
    if isinstance(rec.get("errno"), int):
        rec["errno_name"] = errno_module.errorcode.get(rec["errno"], "")
    return rec


def describe_chain(exc):
    return [describe(e) for e in chain_of(exc)]


# --- HTTP over an established TLS connection -----------------------------------------


def request_bytes(args):
    return (
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n".format(
            args["path"], args["host_header"]
        )
    ).encode("ascii")


def status_of(head):
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


# --- stdlib: ssl.create_default_context() ----------------------------------------------


def flags_of(ctx):
    try:
        return int(ctx.verify_flags)
    except Exception:
        return None


def level_of(ctx):
    """OpenSSL's security level of the context (readable from Python 3.10 on)."""
    level = getattr(ctx, "security_level", None)
    return level if isinstance(level, int) else None


def paths_info():
    p = ssl.get_default_verify_paths()
    return {
        "cafile": p.cafile,
        "capath": p.capath,
        "openssl_cafile": p.openssl_cafile,
        "openssl_capath": p.openssl_capath,
        "cafile_env": p.openssl_cafile_env,
        "capath_env": p.openssl_capath_env,
    }


def info_stdlib():
    return {
        "library_version": None,
        "tls_library_version": ssl.OPENSSL_VERSION,
        "verify_flags": flags_of(ssl.create_default_context()),
        "security_level": level_of(ssl.create_default_context()),
        "default_paths": paths_info(),
    }


def probe_stdlib(args, state):
    ctx = ssl.create_default_context(cafile=args.get("cafile"))
    state["verify_flags"] = flags_of(ctx)
    sock = socket.create_connection((args["address"], args["port"]), timeout=args["timeout"])
    try:
        tls = ctx.wrap_socket(sock, server_hostname=args["host"])
    except BaseException:
        sock.close()
        raise
    try:
        state["tls_version"] = tls.version()
        tls.sendall(request_bytes(args))
        head = tls.recv(1024)
    finally:
        tls.close()
    return {"status": status_of(head)}


# --- urllib3 and requests ---------------------------------------------------------------


def recording_pool(state):
    """An HTTPSConnectionPool whose connections note the TLS version once connected."""
    import urllib3
    from urllib3.connection import HTTPSConnection

    class RecordingConnection(HTTPSConnection):
        def connect(self):
            super().connect()
            sock = getattr(self, "sock", None)
            state["tls_version"] = sock.version() if sock is not None else None

    class RecordingPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = RecordingConnection

    # urllib3 writes the pool's class name into its error text: name them as urllib3's own,
    # so a detail reads what plain urllib3 says rather than our subclass.
    RecordingConnection.__name__ = RecordingConnection.__qualname__ = "HTTPSConnection"
    RecordingPool.__name__ = RecordingPool.__qualname__ = "HTTPSConnectionPool"
    return RecordingPool


def urllib3_context(cafile):
    from urllib3.util.ssl_ import create_urllib3_context

    ctx = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
    else:
        ctx.load_default_certs()
    return ctx


def info_urllib3():
    import urllib3

    return {
        "library_version": f"urllib3 {urllib3.__version__}",
        "tls_library_version": ssl.OPENSSL_VERSION,
        "verify_flags": flags_of(urllib3_context(None)),
        "security_level": level_of(urllib3_context(None)),
        "default_paths": paths_info(),
    }


def probe_urllib3(args, state):
    import urllib3

    ctx = urllib3_context(args.get("cafile"))
    state["verify_flags"] = flags_of(ctx)
    pool = recording_pool(state)(
        args["address"],
        args["port"],
        server_hostname=args["host"],
        cert_reqs="CERT_REQUIRED",
        ssl_context=ctx,
        timeout=urllib3.Timeout(connect=args["timeout"], read=args["timeout"]),
        retries=False,
    )
    try:
        response = pool.urlopen(
            "GET",
            args["path"],
            headers={"Host": args["host_header"]},
            redirect=False,
            preload_content=False,
        )
        response.release_conn()
        return {"status": response.status}
    finally:
        pool.close()


def info_requests():
    import certifi
    import requests
    import urllib3
    from urllib3.util.ssl_ import create_urllib3_context

    return {
        "library_version": f"requests {requests.__version__} (urllib3 {urllib3.__version__})",
        "tls_library_version": ssl.OPENSSL_VERSION,
        "verify_flags": flags_of(create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)),
        "security_level": level_of(create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)),
        "certifi": certifi.where(),
    }


def probe_requests(args, state):
    import requests
    from requests.adapters import HTTPAdapter

    host = args["host"]
    pool_class = recording_pool(state)

    class NameAdapter(HTTPAdapter):
        """Connect where the URL says; SNI and name check for the target's host."""

        def init_poolmanager(self, *a, **kw):
            kw["server_hostname"] = host
            super().init_poolmanager(*a, **kw)
            classes = dict(self.poolmanager.pool_classes_by_scheme)
            classes["https"] = pool_class
            self.poolmanager.pool_classes_by_scheme = classes

    with requests.Session() as session:
        session.mount("https://", NameAdapter(max_retries=0))
        response = session.get(
            args["connect_url"],
            headers={"Host": args["host_header"]},
            verify=args.get("cafile") or True,
            timeout=(args["timeout"], args["timeout"]),
            allow_redirects=False,
            proxies={"http": None, "https": None, "all": None},
        )
        return {"status": response.status_code}


# --- httpx ------------------------------------------------------------------------------


def httpx_context(cafile):
    import httpx

    if cafile:
        return ssl.create_default_context(cafile=cafile)
    make = getattr(httpx, "create_ssl_context", None)
    if make is not None:
        return make(trust_env=True)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def info_httpx():
    import certifi
    import httpcore
    import httpx

    return {
        "library_version": f"httpx {httpx.__version__} (httpcore {httpcore.__version__})",
        "tls_library_version": ssl.OPENSSL_VERSION,
        "verify_flags": flags_of(httpx_context(None)),
        "security_level": level_of(httpx_context(None)),
        "certifi": certifi.where(),
    }


def probe_httpx(args, state):
    import httpx

    ctx = httpx_context(args.get("cafile"))
    state["verify_flags"] = flags_of(ctx)
    client = httpx.Client(verify=ctx, trust_env=False, timeout=args["timeout"])
    request = client.build_request(
        "GET",
        args["connect_url"],
        headers={"Host": args["host_header"]},
        extensions={"sni_hostname": args["host"]},
    )
    with client:
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise
        except httpx.TransportError:
            state.setdefault("tls_version", None)  # connected, TLS included: after handshake
            raise
        try:
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream else None
            state["tls_version"] = ssl_object.version() if ssl_object else None
            return {"status": response.status_code}
        finally:
            response.close()


# --- pyOpenSSL (+ service-identity for the name) -----------------------------------------


def pyopenssl_versions():
    import cryptography
    import OpenSSL
    from OpenSSL import SSL

    library = SSL.SSLeay_version(SSL.SSLEAY_VERSION)
    if isinstance(library, bytes):
        library = library.decode("ascii", "replace")
    return f"pyOpenSSL {OpenSSL.__version__} (cryptography {cryptography.__version__})", library


def info_pyopenssl():
    from OpenSSL import SSL

    version, library = pyopenssl_versions()
    default_file = level = None
    try:
        from OpenSSL._util import ffi, lib

        default_file = ffi.string(lib.X509_get_default_cert_file()).decode()
        get_level = getattr(lib, "SSL_CTX_get_security_level", None)
        if get_level is not None:
            ctx = SSL.Context(getattr(SSL, "TLS_CLIENT_METHOD", SSL.SSLv23_METHOD))
            level = int(get_level(ctx._context))
    except Exception:
        pass
    return {
        "library_version": version,
        "tls_library_version": library,
        "verify_flags": None,  # pyOpenSSL cannot read them back; OpenSSL's default is 0
        "security_level": level,
        "default_cert_file": default_file,
        # newer pyOpenSSL falls back to these when the wheel's OpenSSL directory is empty
        "ca_file_candidates": [
            c.decode() if isinstance(c, bytes) else str(c)
            for c in getattr(SSL, "_CERTIFICATE_FILE_LOCATIONS", None) or []
        ]
        or None,
    }


def until_done(step, sock, deadline):
    from OpenSSL import SSL

    while True:
        try:
            return step()
        except SSL.WantReadError:
            want_read = True
        except SSL.WantWriteError:
            want_read = False
        except SSL.ZeroReturnError:
            return b""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline("deadline passed")
        r, w, _ = select.select(
            [sock] if want_read else [], [] if want_read else [sock], [], remaining
        )
        if not r and not w:
            raise Deadline("no answer from the server")


def probe_pyopenssl(args, state):
    from OpenSSL import SSL

    deadline = time.monotonic() + args["timeout"]
    state["tls_library_version"] = pyopenssl_versions()[1]
    errors = state.setdefault("verify_errors", [])

    def remember(_conn, _cert, errnum, depth, ok):
        if not ok:
            errors.append([errnum, depth, verify_message(errnum)])
        return bool(ok)

    ctx = SSL.Context(getattr(SSL, "TLS_CLIENT_METHOD", SSL.SSLv23_METHOD))
    ctx.set_verify(SSL.VERIFY_PEER, remember)
    if args.get("cafile"):
        ctx.load_verify_locations(args["cafile"])
    else:
        ctx.set_default_verify_paths()
    sock = socket.create_connection((args["address"], args["port"]), timeout=args["timeout"])
    try:
        conn = SSL.Connection(ctx, sock)
        if not args["is_ip"]:
            conn.set_tlsext_host_name(args["host"].encode("ascii"))
        conn.set_connect_state()
        until_done(conn.do_handshake, sock, deadline)
        check_name(conn, args)
        state["tls_version"] = conn.get_protocol_version_name()
        until_done(lambda: conn.sendall(request_bytes(args)), sock, deadline)
        head = until_done(lambda: conn.recv(1024), sock, deadline)
    finally:
        sock.close()
    return {"status": status_of(head)}


def check_name(conn, args):
    from service_identity.pyopenssl import verify_hostname

    if args["is_ip"]:
        from service_identity.pyopenssl import verify_ip_address

        verify_ip_address(conn, args["host"])
    else:
        verify_hostname(conn, args["host"].rstrip("."))


def verify_message(code):
    try:
        from OpenSSL._util import ffi, lib

        return ffi.string(lib.X509_verify_cert_error_string(code)).decode()
    except Exception:
        return None


INFO = {
    "stdlib": info_stdlib,
    "urllib3": info_urllib3,
    "requests": info_requests,
    "httpx": info_httpx,
    "pyopenssl": info_pyopenssl,
}
PROBES = {
    "stdlib": probe_stdlib,
    "urllib3": probe_urllib3,
    "requests": probe_requests,
    "httpx": probe_httpx,
    "pyopenssl": probe_pyopenssl,
}


if __name__ == "__main__":
    main()
