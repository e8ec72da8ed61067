"""Benchmarks: synthetic data at scale (see benchmarks/README.md)."""
