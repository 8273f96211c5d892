"""Benchmarks and the load-with-faults script. Run `make bench` (or `python -m bench --help`)."""
