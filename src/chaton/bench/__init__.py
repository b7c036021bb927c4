"""Benchmarks and security audit of a whole chaton host (`make bench`, `make audit`, issue #10).

Shared code lives here; the probes run inside the container live in bench/probes/.
"""
