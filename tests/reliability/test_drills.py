"""Three of the fault drills, CI-sized: the proof runner (`python -m proof.drills`, see
proof/README.md) with a PostgreSQL and a Redis of its own, a real worker and 20 studies in
flight, on `model_corrupt` (sha256 refuses the altered model, readiness goes red, the web stays
up, no prediction from it, recovery once restored) and `redis_flush` (the sweeper re-enqueues
everything the flush lost) and `bomb` (a PNG bomb refused at upload and in the worker; a
pathological DICOM stopped by the worker child's memory guard, then by the soft time limit: each
FAILED with a reason at its first attempt, the child replaced, the other studies DONE). The other
drills run in `make proof`."""

import pytest

from proof.drills.stack import services_available
from tests.imaging.conftest import imaging_bundle_folder  # noqa: F401  (a session fixture)
from tests.proofs import proof_run

pytestmark = [pytest.mark.slow]


def test_the_model_corruption_redis_flush_and_bomb_drills_pass(imaging_bundle_folder):  # noqa: F811
    missing = services_available()
    if missing:
        pytest.skip(f"the drills need {missing}")
    names = ["model_corrupt", "redis_flush", "bomb"]
    result, output = proof_run(["proof.drills", *names], imaging_bundle=imaging_bundle_folder)
    assert set(result["drills"]) == set(names)
    assert result["all_ok"], output
    assert result["_exit"] == 0, output
