"""Benchmarks against the references: run each from the repository root, ``python -m bench.<name>``."""
