"""The ``tlsmatrix`` command line. Imports stay inside the commands so ``--help`` and
``--version`` load no client library; ``--version`` alone does not even load argparse,
so it costs little more than starting Python (see benchmarks/)."""

from __future__ import annotations

import os
import sys

from tlsmatrix import __version__
from tlsmatrix.errors import UsageError, one_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (and re) at start-up
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse that reports a usage error as one line and exit 2."""

        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(message)

    return _Parser


def positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def positive_int(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return int(text)


# Each command lives in harness/commands/<module>.py with ``register(subparsers)``, which
# adds its parser and sets ``func``; only cheap modules (argparse) are imported here.
COMMANDS = (
    "preflight",
    "run",
    "clients",
    "inspect",
    "fix-chain",
    "capture",
    "lab",
    "demo",
    "diff",
    "merge",
    "schema",
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` naming a command first, that command's only (every run
    would otherwise import and register all eleven commands, ~20 ms)."""
    import importlib

    parser_class = _parser_class()
    parser = parser_class(
        prog="tlsmatrix",
        description="Run many real TLS clients against one endpoint and show who accepts "
        "the certificate chain, who rejects it, and why.",
    )
    parser.add_argument("--version", action="version", version=f"tlsmatrix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS
    for name in wanted:
        importlib.import_module(f"tlsmatrix.commands.{name.replace('-', '_')}").register(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run like Ctrl-C: partial results, exit 130


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # The common probe of an installation, answered without argparse or the commands;
        # prints exactly what argparse's version action prints.
        print(f"tlsmatrix {__version__}")
        return EXIT_OK
    import signal

    if threading_is_main():
        signal.signal(signal.SIGTERM, _interrupt)
    import warnings

    # Real CA bundles hold a few certificates cryptography warns about (negative serial
    # numbers); the tool reports certificates, it does not lecture about them.
    warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
    try:
        given = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(given)
        args = parser.parse_args(given)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args))
    except UsageError as exc:
        print(f"tlsmatrix: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlsmatrix: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug must still be one line, not a traceback
        if os.environ.get("TLSMATRIX_DEBUG"):
            raise
        print(
            f"tlsmatrix: error: internal error ({one_line(exc)}); this is a bug, "
            "TLSMATRIX_DEBUG=1 shows the traceback",
            file=sys.stderr,
        )
        return EXIT_USAGE


def entry() -> None:
    """The console script and ``python -m tlsmatrix``: :func:`main`, then exit without
    tearing the interpreter down. Tearing down the modules of a dozen client libraries takes
    ~0.15 s, a fifth of a one-host run; everything that must happen at exit (stopping
    workers and browsers, removing temporary files, flushing) is registered with atexit,
    and runs first."""
    code = main()
    exit_now(code)


def exit_now(code: int) -> None:
    import atexit
    import contextlib
    import os
    import threading

    for thread in threading.enumerate():  # as the interpreter would: wait for non-daemons
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
            stream.flush()
    os._exit(code)
