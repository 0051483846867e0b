"""tlsmatrix harness: runner, chain capture, explanations, reports, the lab and the CLI."""

__version__ = "0.1.0"
