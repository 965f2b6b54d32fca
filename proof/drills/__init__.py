"""Fault drills: inject a fault into a real stack (a Celery worker, a Redis and a PostgreSQL of
our own, on free ports, in a temporary folder) while 20 studies are in flight, and check that
every study ends DONE exactly once (one result, one notification) or FAILED with a reason.

Run `python -m proof.drills [names...]`; see proof/README.md.
"""
