"""Three of the fault drills, CI-sized: the proof runner (`python -m proof.drills`, see
proof/README.md) with a PostgreSQL and a Redis of its own, a real worker and 20 studies in
flight, on `model_corrupt` (sha256 refuses the altered model, readiness goes red, the web stays
up, no prediction from it, recovery once restored) and `redis_flush` (the sweeper re-enqueues
everything the flush lost) and `bomb` (a PNG bomb refused at upload and in the worker; a
pathological DICOM stopped by the worker child's memory guard, then by the soft time limit: each
FAILED with a reason at its first attempt, the child replaced, the other studies DONE). The other
drills run in `make proof`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proof.drills.stack import services_available
from tests.imaging.conftest import imaging_bundle_folder  # noqa: F401  (a session fixture)

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# The test run's own services and folders: the runner brings its own.
NOT_INHERITED = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "HEALTHMENTOR_TEST_RUN_DIR",
    "MEDIA_ROOT",
    "IMAGING_MODEL_ROOT",
    "BENEFIT_MODEL_ROOT",
    "DJANGO_SETTINGS_MODULE",
}


def test_the_model_corruption_redis_flush_and_bomb_drills_pass(imaging_bundle_folder):  # noqa: F811
    missing = services_available()
    if missing:
        pytest.skip(f"the drills need {missing}")
    env = {
        k: v for k, v in os.environ.items() if k not in NOT_INHERITED and not k.startswith("PYTEST")
    }
    env["PROOF_IMAGING_BUNDLE"] = str(imaging_bundle_folder)

    run = subprocess.run(
        [sys.executable, "-m", "proof.drills", "model_corrupt", "redis_flush", "bomb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr[-3000:]
    result = json.loads(lines[-1])
    assert set(result["drills"]) == {"model_corrupt", "redis_flush", "bomb"}
    assert result["all_ok"], "\n".join(lines[:-1]) + "\n" + run.stderr[-3000:]
    assert run.returncode == 0
