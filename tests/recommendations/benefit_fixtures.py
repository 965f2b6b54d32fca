"""Fixtures of the treatment-benefit model: the real GBSG2 model, trained once per test run.

tests/recommendations/conftest.py imports them:
    from tests.recommendations.benefit_fixtures import benefit_artifact_folder, benefit_model
"""

import fcntl
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def benefit_artifact_folder() -> Path:
    """The benefit model trained with the default seed under TEST_RUN_DIR/models/benefit, which
    pytest-xdist workers share: a file lock lets one worker train and the others reuse it.
    Training (about 8 s) touches no database."""
    from django.conf import settings

    from recommendations.ml.benefit_training import benefit_save, benefit_train

    root = Path(str(settings.TEST_RUN_DIR)) / "models" / "benefit"
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "trained.json"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                folder = benefit_save(benefit_train(), root)
                marker.write_text(json.dumps({"folder": str(folder)}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Path(json.loads(marker.read_text())["folder"])


@pytest.fixture
def benefit_model(benefit_artifact_folder, settings, db):
    """The session's benefit model, registered and active in this test's database (returns its
    BenefitModelVersion)."""
    from recommendations.benefit import (
        benefit_model_activate,
        benefit_model_cache_clear,
        benefit_model_register,
    )

    settings.BENEFIT_MODEL_ROOT = benefit_artifact_folder.parent.parent
    benefit_model_cache_clear()
    version = benefit_model_register(folder=benefit_artifact_folder)
    return benefit_model_activate(version=version)
