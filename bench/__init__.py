"""The benchmark harness: `make bench` (see bench/run.py)."""
