"""Benchmarks (plain scripts; see README.md). A package only so that tools name bench/imaging.py
bench.imaging, apart from the imaging app."""
