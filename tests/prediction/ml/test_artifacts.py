"""Artifacts: a model whose file does not match its manifest, or which names an unexpected type,
is refused with a clear error and never loaded."""

import json
import os
import shutil

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from healthmentor.artifacts import (
    ArtifactIntegrityError,
    manifest_read_verified,
    manifest_write,
    sha256_file,
)
from prediction.ml.model import RiskModel, load_risk_model
from prediction.ml.persist import UntrustedArtifactError, model_dumps, model_load


@pytest.fixture
def artifact(saved, tmp_path):
    """A private copy of the diabetes artifact, free to damage."""
    return shutil.copytree(saved["diabetes"], tmp_path / "artifact")


@pytest.mark.slow
def test_an_intact_artifact_loads(artifact):
    model = load_risk_model(artifact)
    assert isinstance(model, RiskModel)
    assert model.manifest["sha256"] == sha256_file(artifact / "model.skops")


@pytest.mark.slow
def test_a_tampered_model_file_is_refused(artifact):
    expected = json.loads((artifact / "manifest.json").read_text())["sha256"]
    with (artifact / "model.skops").open("ab") as handle:
        handle.write(b"\0")
    actual = sha256_file(artifact / "model.skops")
    with pytest.raises(ArtifactIntegrityError) as error:
        load_risk_model(artifact)
    message = str(error.value)
    assert str(artifact) in message and expected in message and actual in message


@pytest.mark.slow
def test_a_tampered_manifest_digest_is_refused(artifact):
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["sha256"] = "0" * 64
    manifest_write(artifact, manifest)
    with pytest.raises(ArtifactIntegrityError, match="failed its integrity check"):
        load_risk_model(artifact)


@pytest.mark.slow
def test_a_manifest_describing_other_features_is_refused(artifact):
    """The digest vouches for the model file only; the model file vouches for the manifest."""
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["features"] = list(reversed(manifest["features"]))
    manifest_write(artifact, manifest)
    with pytest.raises(ArtifactIntegrityError, match="disagree on features"):
        load_risk_model(artifact)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["no manifest", "bad json", "no model", "no digest"])
def test_missing_or_unreadable_parts_are_refused(artifact, damage):
    if damage == "no manifest":
        (artifact / "manifest.json").unlink()
    elif damage == "bad json":
        (artifact / "manifest.json").write_text("{not json")
    elif damage == "no model":
        (artifact / "model.skops").unlink()
    else:
        manifest = json.loads((artifact / "manifest.json").read_text())
        del manifest["sha256"]
        manifest_write(artifact, manifest)
    with pytest.raises(ArtifactIntegrityError, match=str(artifact)):
        manifest_read_verified(artifact)


@pytest.mark.slow
def test_an_artifact_naming_an_unexpected_type_is_refused(artifact):
    """A correctly digested file that would call os.system is refused before anything is built."""
    evil = Pipeline([("run", FunctionTransformer(func=os.system))])
    (artifact / "model.skops").write_bytes(model_dumps({"format": 1, "estimator": evil}))
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["sha256"] = sha256_file(artifact / "model.skops")
    manifest_write(artifact, manifest)
    with pytest.raises(UntrustedArtifactError, match="system") as error:
        load_risk_model(artifact)
    assert isinstance(error.value, ArtifactIntegrityError)


def test_model_dumps_are_byte_identical_and_load_back(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)

    def dump() -> bytes:
        forest = RandomForestClassifier(n_estimators=5, random_state=1).fit(X, y)
        return model_dumps({"format": 1, "estimator": forest, "names": ["a", "b", "c"]})

    first, second = dump(), dump()
    assert first == second
    (tmp_path / "m.skops").write_bytes(first)
    loaded = model_load(tmp_path / "m.skops")
    assert loaded["names"] == ["a", "b", "c"]
    assert loaded["estimator"].predict_proba(X).shape == (80, 2)


def test_a_damaged_skops_file_is_refused(tmp_path):
    (tmp_path / "m.skops").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArtifactIntegrityError, match="not a readable skops file"):
        model_load(tmp_path / "m.skops")


def test_manifests_are_strict_json(tmp_path):
    with pytest.raises(ValueError):
        manifest_write(tmp_path, {"auroc": float("nan")})
    assert not (tmp_path / "manifest.json").exists()
