"""Benchmarks for issue 7: start-up, per-probe overhead, scale and the lab matrix.

Run ``python benchmarks/run.py [--quick]``; see benchmarks/README.md."""
