"""Validation of user-supplied files and client names: one clear UsageError each."""

from __future__ import annotations

import os

from tlsmatrix.errors import UsageError

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


def check_ca_file(path: str, option: str = "--ca-file") -> str:
    """A readable PEM file holding at least one certificate; returns its absolute path."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory, not a PEM file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(50_000_000)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    if _PEM_CERT not in data:
        hint = (
            " (looks like DER: convert with 'openssl x509 -inform der')"
            if data[:1] == b"\x30"
            else ""
        )
        raise UsageError(f"{option} {path} holds no PEM certificate{hint}")
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{option} {path} has a malformed PEM certificate: {exc}") from None
    return os.path.abspath(path)


def split_names(values: list[str]) -> list[str]:
    """Repeated options and comma lists alike: ``-c curl,requests -c node``."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> UsageError:
    """ "unknown client 'crul' (did you mean 'curl'?)", or the list of known names."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return UsageError(f"unknown {kind} {name!r} (did you mean {close[0]!r}?)")
    return UsageError(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def check_clients(names: list[str]) -> list[str]:
    from tlsmatrix import clients

    chosen = split_names(names)
    if all(name in clients.BUILTIN for name in chosen):
        return list(dict.fromkeys(chosen))  # no need to read the installed plugins
    known = clients.names()
    for name in chosen:
        if "@" in name and name not in known:  # NAME@INTERPRETER: another Python
            from tlsmatrix.clients.interpreter import check_name

            problem = check_name(name)
            if problem is not None:
                raise UsageError(f"--client {name}: {problem}")
            continue
        if name not in known:
            raise unknown_name("client", name, known)
    return list(dict.fromkeys(chosen))


# -o's extension names the format when --format is not given.
EXTENSION_FORMATS = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".xml": "junit",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}


def choose_format(fmt: str | None, output: str | None, formats: tuple[str, ...]) -> str:
    """``--format`` if given (checked against ``formats``), else the format ``-o``'s
    extension names, else ``table``. An extension naming a format this command cannot write
    is an error rather than a silent text table in ``report.json``."""
    if fmt is not None:
        if fmt not in formats:
            raise unknown_name("format", fmt, formats)
        return fmt
    if output and output != "-":
        suffix = os.path.splitext(output)[1].lower()
        guessed = EXTENSION_FORMATS.get(suffix)
        if guessed is not None:
            if guessed not in formats:
                raise UsageError(
                    f"-o {output}: this command cannot write {guessed}; "
                    f"give --format ({', '.join(formats)})"
                )
            return guessed
    return "table" if "table" in formats else formats[0]


def parse_trust_options(items: list[str], chosen: list[str]) -> dict[str, str]:
    """``CLIENT=PEM`` items -> {client: absolute path}."""
    from tlsmatrix import clients

    if not items:
        return {}
    known = clients.names()
    result: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--trust wants CLIENT=PEM, got {item!r}")
        if name not in known and name not in clients.registry():  # or NAME@INTERPRETER
            raise UsageError(f"--trust names unknown client {name!r}; known: {', '.join(known)}")
        if chosen and name not in chosen:
            raise UsageError(f"--trust names client {name!r}, which this run does not include")
        result[name] = check_ca_file(path, f"--trust {name}=")
    return result
