"""Benchmarks: ``python -m bench`` (``make bench``) prints ratios measured in one run."""
