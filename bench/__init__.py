"""Benchmarks: `make bench`, `make bench-aggregates`, `make bench-sync`. Not tests: each
prints its figures next to a raw baseline measured in the same run."""
