"""Proofs that take longer than CI allows: fault drills (`python -m proof.drills`). See README."""
