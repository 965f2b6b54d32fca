"""Fixtures of the prediction tests: every disease is trained once per test run and shared.

`trained_risk_models` trains into the run's folder (settings.TEST_RUN_DIR), which pytest-xdist
workers share: a file lock lets the first worker train and the others reuse its artifacts.
Training touches no database, so the fixture leaves pytest-django's database blocker in place
(were training to query, the test would fail loudly rather than write outside a test database).
"""

import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from healthmentor.artifacts import manifest_write, sha256_file
from patients.services import care_team_add_member
from prediction.loading import risk_model_cache_clear
from prediction.ml.diseases import DISEASES, FeatureSpec
from prediction.models import ModelVersion
from prediction.services import model_version_activate, model_version_register
from tests import factories

TRAINED_MARKER = "trained.json"


def _train_all(root: Path) -> dict[str, object]:
    from prediction.ml.training import save_trained, train_disease

    started = time.monotonic()
    folders: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for key in DISEASES:
        began = time.monotonic()
        folder = Path(save_trained(train_disease(key), root))
        folders[key] = folder.relative_to(root).as_posix()
        seconds[key] = round(time.monotonic() - began, 2)
    return {"folders": folders, "seconds": seconds, "total": round(time.monotonic() - started, 2)}


@pytest.fixture(scope="session")
def trained_risk_models() -> dict[str, Path]:
    """{disease: artifact folder}, every disease trained once for the whole run (all workers)."""
    root = Path(settings.TEST_RUN_DIR) / "risk-models"
    root.mkdir(parents=True, exist_ok=True)
    marker = root / TRAINED_MARKER
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                marker.write_text(json.dumps(_train_all(root), indent=2))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    trained = json.loads(marker.read_text())
    return {key: root / folder for key, folder in trained["folders"].items()}


@pytest.fixture
def risk_model_root(trained_risk_models, settings) -> Path:
    """RISK_MODEL_ROOT pointed at the trained artifacts' folder."""
    root = next(iter(trained_risk_models.values())).parent.parent
    settings.RISK_MODEL_ROOT = root
    return root


@pytest.fixture
def active_risk_models(db, trained_risk_models, risk_model_root) -> dict[str, ModelVersion]:
    """{disease: ModelVersion}: every trained disease registered and active in the test DB."""
    versions: dict[str, ModelVersion] = {}
    for key, folder in trained_risk_models.items():
        version = model_version_register(folder=folder)
        versions[key] = model_version_activate(by=None, version=version)
    return versions


@pytest.fixture
def nurse(db, team):
    user = factories.NurseFactory()
    care_team_add_member(team=team, user=user)
    return user


@pytest.fixture
def clean_model_cache() -> Iterator[None]:
    """Models loaded by the test are forgotten after it (tests that tamper with artifacts)."""
    risk_model_cache_clear()
    yield
    risk_model_cache_clear()


# --- helpers (imported by the tests of this folder) ------------------------------------------


def plausible(spec: FeatureSpec) -> float:
    """A valid value of `spec`: 0 for a flag, the middle of the range otherwise."""
    if spec.kind == "binary":
        return 0.0
    middle = (spec.low + spec.high) / 2
    return float(round(middle)) if spec.kind == "integer" else float(middle)


def all_values(disease: str) -> dict[str, float]:
    """A valid value for every feature of `disease` (overrides that need no record)."""
    return {spec.name: plausible(spec) for spec in DISEASES[disease].features}


def typical_values(manifest: dict[str, Any]) -> dict[str, float]:
    """A value near the training median of every feature of a model (from its drift reference),
    so that its probability is not pinned at 0 or 1."""
    values = {}
    for spec in DISEASES[manifest["disease"]].features:
        edges = manifest["reference"][spec.name]["edges"]
        middle = float(edges[len(edges) // 2])
        if spec.kind == "binary":
            middle = 0.0
        elif spec.kind == "integer":
            middle = float(round(middle))
        values[spec.name] = min(max(middle, spec.low), spec.high)
    return values


def feature_of_kind(kind: str) -> tuple[str, FeatureSpec]:
    """Some disease and one of its features of `kind`."""
    for key, disease in sorted(DISEASES.items()):
        for spec in disease.features:
            if spec.kind == kind:
                return key, spec
    raise LookupError(f"no feature of kind {kind}")


def artifact_copy(source: Path, root: Path, *, version: str | None = None) -> Path:
    """A copy of the artifact in `source` under `root`/<disease>/<version>; with `version`, the
    copy's manifest says that version (the model file, and so its digest, is unchanged)."""
    manifest = json.loads((source / "manifest.json").read_text())
    if version is not None:
        manifest["version"] = version
    target = root / manifest["disease"] / manifest["version"]
    shutil.copytree(source, target)
    if version is not None:
        manifest_write(target, manifest)
    return target


def artifact_tamper(folder: Path, *, rewrite_manifest: bool = False) -> dict[str, Any]:
    """Change the model file's bytes; with rewrite_manifest, make the manifest agree with the
    new digest (an attacker who can write both). Returns the manifest now on disk."""
    model_file = folder / "model.skops"
    with model_file.open("ab") as handle:
        handle.write(b"\x00tampered")
    manifest = json.loads((folder / "manifest.json").read_text())
    if rewrite_manifest:
        manifest["sha256"] = sha256_file(model_file)
        manifest_write(folder, manifest)
    return manifest
