"""Benchmarks: `make bench`. Not tests: they print figures, compared with a raw baseline."""
