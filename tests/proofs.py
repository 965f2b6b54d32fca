"""Running a proof (`python -m proof.<name>`, see proof/README.md) from a test: in a child process
with the test run's services and folders left out (the proof brings its own PostgreSQL, Redis
and folders) and the run's trained imaging bundle lent, so nothing is trained twice."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The test run's own services and folders: the proof brings its own.
NOT_INHERITED = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "HEALTHMENTOR_TEST_RUN_DIR",
    "MEDIA_ROOT",
    "IMAGING_MODEL_ROOT",
    "BENEFIT_MODEL_ROOT",
    "DJANGO_SETTINGS_MODULE",
}


def proof_run(
    args: list[str], *, imaging_bundle: Path, timeout_s: int = 600
) -> tuple[dict[str, Any], str]:
    """(the proof's last line as JSON with its exit status under "_exit", the rest of its output
    for a failure message)."""
    env = {
        k: v for k, v in os.environ.items() if k not in NOT_INHERITED and not k.startswith("PYTEST")
    }
    env["PROOF_IMAGING_BUNDLE"] = str(imaging_bundle)
    run = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr[-3000:]
    context = "\n".join(lines[:-1]) + "\n" + run.stderr[-3000:] + f"\nexit {run.returncode}"
    result = json.loads(lines[-1])
    result["_exit"] = run.returncode
    return result, context
