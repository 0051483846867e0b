"""NAME@INTERPRETER without handshakes: the reason mapping of the probe's structured
fields, the measured-flags policy, the pins, interpreter lookup and the usage errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tlsmatrix import clients
from tlsmatrix.clients.base import Reason
from tlsmatrix.clients.interpreter import check_name, split_name
from tlsmatrix.clients.interpreter.adapter import info_from_payload, key_policy
from tlsmatrix.clients.interpreter.discovery import (
    Interpreter,
    InterpreterNotFound,
    discover,
    resolve,
)
from tlsmatrix.clients.interpreter.outcome import interpret
from tlsmatrix.clients.interpreter.provision import requirements_for
from tlsmatrix.errors import UsageError
from tlsmatrix.inputs import check_clients

from tests.conftest import missing

IN_CI = bool(os.environ.get("CI"))


def need(spec: str) -> Interpreter:
    """The interpreter, or skip (fail in CI, where the machine must have it)."""
    try:
        return resolve(spec)
    except InterpreterNotFound as exc:
        missing(f"Python {spec} is not installed: {exc}")
        raise


def _ssl_error(**fields: object) -> dict[str, object]:
    return {"class": "SSLError", "module": "ssl", "mro": ["SSLError", "OSError"], **fields}


# --- the reason mapping -----------------------------------------------------------------


def test_verify_code_wins_and_names_issuer_unknown() -> None:
    payload = {
        "ok": False,
        "stage": "before_handshake",
        "errors": [
            {"class": "SSLError", "mro": ["SSLError"], "message": "Max retries for x.invalid"},
            {
                "class": "SSLCertVerificationError",
                "mro": ["SSLCertVerificationError", "SSLError", "ValueError"],
                "verify_code": 20,
                "verify_message": "unable to get local issuer certificate",
                "reason": "CERTIFICATE_VERIFY_FAILED",
            },
        ],
    }
    out = interpret(payload)
    assert (out.reason, out.verify_code) == (Reason.INCOMPLETE_CHAIN, 20)
    assert out.detail == "unable to get local issuer certificate"


def test_python36_verify_failure_has_no_code_so_the_chain_decides() -> None:
    out = interpret({"ok": False, "errors": [_ssl_error(reason="CERTIFICATE_VERIFY_FAILED")]})
    assert out.reason is Reason.INVALID_CERTIFICATE and out.certificate_invalid
    assert out.verify_code is None


@pytest.mark.parametrize(
    ("payload", "reason", "code"),
    [
        # pyOpenSSL: the verify callback's first code
        (
            {"errors": [{"class": "Error", "mro": ["Error"]}], "verify_errors": [[10, 0, "x"]]},
            Reason.EXPIRED,
            10,
        ),
        # Python 3.6 / urllib3 1.x / service-identity host name checks
        (
            {"errors": [{"class": "CertificateError", "mro": ["CertificateError", "ValueError"]}]},
            Reason.HOSTNAME_MISMATCH,
            62,
        ),
        (
            {"errors": [{"class": "VerificationError", "mro": ["VerificationError"]}]},
            Reason.HOSTNAME_MISMATCH,
            62,
        ),
        (
            {
                "errors": [
                    {
                        "class": "ConnectionRefusedError",
                        "mro": ["ConnectionRefusedError"],
                        "errno": 111,
                        "errno_name": "ECONNREFUSED",
                    }
                ]
            },
            Reason.CONNECTION_REFUSED,
            None,
        ),
        (
            {"errors": [{"class": "gaierror", "mro": ["gaierror", "OSError"], "errno": -2}]},
            Reason.DNS_FAILURE,
            None,
        ),
        (
            {
                "errors": [
                    {"class": "ReadTimeout", "mro": ["ReadTimeout", "Timeout"]},
                    {"class": "timeout", "mro": ["timeout", "OSError"]},
                ]
            },
            Reason.TIMEOUT,
            None,
        ),
        (
            {"errors": [_ssl_error(reason="WRONG_VERSION_NUMBER", library="SSL")]},
            Reason.NOT_TLS,
            None,
        ),
        (
            {"errors": [_ssl_error(reason="TLSV1_ALERT_PROTOCOL_VERSION")]},
            Reason.PROTOCOL_VERSION,
            None,
        ),
        (
            {"errors": [_ssl_error(reason="SSLV3_ALERT_HANDSHAKE_FAILURE")]},
            Reason.HANDSHAKE_FAILURE,
            None,
        ),
        # pyOpenSSL's Error([(lib, func, reason)]): OpenSSL's reason text, not a message
        (
            {
                "errors": [
                    {
                        "class": "Error",
                        "module": "OpenSSL.SSL",
                        "mro": ["Error"],
                        "openssl_errors": [
                            ["SSL routines", "ssl3_get_record", "wrong version number"]
                        ],
                    }
                ]
            },
            Reason.NOT_TLS,
            None,
        ),
        (
            {
                "errors": [
                    {
                        "class": "SysCallError",
                        "module": "OpenSSL.SSL",
                        "mro": ["SysCallError"],
                        "errno": 104,
                        "errno_name": "ECONNRESET",
                    }
                ]
            },
            Reason.HANDSHAKE_FAILURE,
            None,
        ),
        (
            {"errors": [{"class": "KeyError", "mro": ["KeyError"], "message": "boom"}]},
            Reason.CLIENT_ERROR,
            None,
        ),
    ],
)
def test_structured_fields_map_to_reasons(payload: dict, reason: Reason, code: int | None) -> None:
    out = interpret({"ok": False, **payload})
    assert (out.reason, out.verify_code) == (reason, code), out.detail


def test_a_message_naming_a_reason_is_not_read() -> None:
    """The host name (in messages) may say anything: only fields decide."""
    record = {"class": "KeyError", "mro": ["KeyError"], "message": "certificate has expired"}
    assert interpret({"ok": False, "errors": [record]}).reason is Reason.CLIENT_ERROR


def test_failure_after_the_handshake_is_an_accept_unless_an_alert() -> None:
    reset = {
        "class": "ConnectionResetError",
        "mro": ["ConnectionResetError"],
        "errno_name": "ECONNRESET",
    }
    out = interpret(
        {"ok": False, "stage": "after_handshake", "tls_version": "TLSv1.3", "errors": [reset]}
    )
    assert out.reason is Reason.OK and out.tls_version == "TLS 1.3"
    alert = _ssl_error(reason="TLSV13_ALERT_CERTIFICATE_REQUIRED")
    out = interpret({"ok": False, "stage": "after_handshake", "errors": [alert]})
    assert out.reason is Reason.HANDSHAKE_FAILURE


def test_success_line() -> None:
    out = interpret({"ok": True, "status": 200, "tls_version": "TLSv1.2"})
    assert (out.reason, out.detail, out.tls_version) == (Reason.OK, "HTTP 200", "TLS 1.2")


# --- the policy comes from the measured flags ---------------------------------------------


def _info_payload(flags: object) -> dict[str, object]:
    return {
        "python": "3.99.0",
        "implementation": "CPython",
        "executable": "/x/python",
        "tls_library_version": "OpenSSL 9.9.9",
        "verify_flags": flags,
        "default_paths": {"cafile": "/x/ca.pem", "cafile_env": "SSL_CERT_FILE"},
    }


@pytest.mark.parametrize(
    ("flags", "partial", "strict"),
    [(0x8000, False, False), (0x88020, True, True), (0x80000, True, False), (None, False, False)],
)
def test_policy_from_measured_verify_flags(flags: object, partial: bool, strict: bool) -> None:
    info = info_from_payload("stdlib@x", "stdlib", _info_payload(flags), {})
    assert (info.partial_chain, info.strict_x509) == (partial, strict)
    assert info.version == "Python 3.99.0" and info.tls_library_version == "OpenSSL 9.9.9"
    assert info.native_trust is not None and info.native_trust.path == "/x/ca.pem"
    env_info = info_from_payload(
        "stdlib@x", "stdlib", _info_payload(flags), {"SSL_CERT_FILE": "/y.pem"}
    )
    assert env_info.native_trust is not None
    assert (env_info.native_trust.origin, env_info.native_trust.path) == ("SSL_CERT_FILE", "/y.pem")


# --- pins ------------------------------------------------------------------------------------


def _interp(version: str) -> Interpreter:
    return Interpreter(f"/opt/py{version}/bin/python", version, "CPython", "OpenSSL 3.0.0")


def test_pins_follow_the_interpreter() -> None:
    old = requirements_for("requests", _interp("3.6.15"))
    assert not isinstance(old, str) and "requests>=2.26,<2.28" in old.specs
    assert "urllib3>=1.26,<2" in old.specs
    new = requirements_for("requests", _interp("3.13.0"))
    assert not isinstance(new, str) and "urllib3>=2,<3" in new.specs
    legacy = requirements_for("pyopenssl", _interp("3.6.15"))
    assert not isinstance(legacy, str) and "cryptography==2.0.3" in legacy.specs
    stdlib = requirements_for("stdlib", _interp("3.13.0"))
    assert not isinstance(stdlib, str) and not stdlib.needs_venv


def test_too_old_interpreter_says_why() -> None:
    why = requirements_for("httpx", _interp("3.6.15"))
    assert isinstance(why, str)
    assert why.startswith("httpx needs Python >= 3.8 for the pinned httpx>=0.27,<0.29")
    why = requirements_for("stdlib", _interp("2.7.18"))
    assert isinstance(why, str) and "needs Python >= 3.6 for the tlsmatrix probe" in why


# --- names and interpreters --------------------------------------------------------------


def test_split_and_registry() -> None:
    assert split_name("requests@/opt/py/bin/python3") == ("requests", "/opt/py/bin/python3")
    assert split_name("requests") is None
    assert "stdlib@3.13" in clients.registry()
    assert "curl@3.13" not in clients.registry()
    with pytest.raises(clients.UnknownClient):
        clients.load("curl@3.13")


def test_resolve_by_pyenv_version_path_and_name() -> None:
    by_version = need("3.13")
    assert by_version.version.startswith("3.13.") and by_version.openssl
    by_name = resolve("python3.13")  # a pyenv shim on PATH is looked through
    assert by_name.version == by_version.version
    by_path = resolve(by_version.path)
    assert by_path.path == by_version.path
    here = resolve(sys.executable)
    assert here.version == ".".join(map(str, sys.version_info[:3]))


def test_unknown_interpreter_is_one_usage_line() -> None:
    with pytest.raises(UsageError, match=r"^--client stdlib@9\.99: no Python interpreter '9\.99'"):
        check_clients(["stdlib@9.99"])
    with pytest.raises(UsageError, match="no such executable"):
        check_clients(["requests@/nonexistent/python3"])
    assert check_name("curl@3.13") is not None
    assert check_clients(["stdlib", f"stdlib@{sys.executable}"]) == [
        "stdlib",
        f"stdlib@{sys.executable}",
    ]


def test_not_a_python_is_refused() -> None:
    with pytest.raises(InterpreterNotFound, match="not a Python interpreter"):
        resolve("/bin/true")


def test_cli_unknown_interpreter_exits_2_with_one_line() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tlsmatrix",
            "run",
            "https://tlsmatrix.invalid",
            "--client",
            "stdlib@no-such-python",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Python interpreter 'no-such-python'" in lines[0]
    assert "Traceback" not in res.stderr


def test_cli_lists_interpreters() -> None:
    need("3.13")
    res = subprocess.run(
        [sys.executable, "-m", "tlsmatrix", "clients", "--python", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    import json

    found = json.loads(res.stdout)
    assert {"path", "version", "openssl", "adapters"} <= set(found[0])
    for row in found:  # what each can run follows the pins (httpx needs 3.8)
        major_minor = tuple(int(p) for p in row["version"].split(".")[:2])
        assert ("httpx" in row["adapters"]) is (major_minor >= (3, 8)), row
        assert ("stdlib" in row["adapters"]) is (major_minor >= (3, 6)), row
    assert any(i["version"].startswith("3.13.") for i in found)
    assert {i["version"] for i in found} == {i.version for i in discover()}


def test_key_policy_from_the_measured_security_level() -> None:
    assert key_policy(2, "OpenSSL 3.0.22") == {"min_rsa_bits": 2048, "rejects_sha1": True}
    assert key_policy(1, "OpenSSL 3.0.22") == {"min_rsa_bits": 1024, "rejects_sha1": True}
    assert key_policy(1, "OpenSSL 1.1.0f  25 May 2017") == {
        "min_rsa_bits": 1024,
        "rejects_sha1": False,
    }
    assert key_policy(None, "OpenSSL 1.1.0f") == {}
    info = info_from_payload("stdlib@x", "stdlib", {**_info_payload(0), "security_level": 1}, {})
    assert (info.min_rsa_bits, info.rejects_sha1) == (1024, True)  # "OpenSSL 9.9.9"
    unread = info_from_payload("stdlib@x", "stdlib", _info_payload(0), {})
    assert any("not measured" in n for n in unread.notes)
