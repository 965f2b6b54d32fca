"""Readiness names the active imaging model when its files no longer match the digests copied at
registration (the model-corruption drill, proof/drills `model_corrupt`), without data; with no
model active there is nothing to check and the check is left out."""

import hashlib
from pathlib import Path

import pytest

from imaging.models import ImagingModelVersion


@pytest.fixture
def active_model(db, settings) -> Path:
    folder = Path(settings.IMAGING_MODEL_ROOT) / "ready-test" / "v1"
    folder.mkdir(parents=True, exist_ok=True)
    onnx = folder / "classifier.onnx"
    onnx.write_bytes(b"weights" * 100)
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
    ImagingModelVersion.objects.create(
        name="ready-test",
        version="v1",
        artifact_dir="ready-test/v1",
        sha256=digest,
        files={"classifier.onnx": digest},
        manifest={},
        is_active=True,
    )
    return onnx


def test_ready_checks_the_active_model_and_is_200_while_it_matches(client, active_model):
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"]["imaging_model"]["ok"] is True


@pytest.mark.parametrize("damage", ["altered", "missing"])
def test_ready_is_503_naming_the_model_when_a_file_is_altered_or_missing(
    damage, client, active_model
):
    assert client.get("/health/ready").status_code == 200  # its digest is now cached
    if damage == "altered":
        active_model.write_bytes(b"tampered" * 100)
    else:
        active_model.unlink()

    response = client.get("/health/ready")

    assert response.status_code == 503
    check = response.json()["checks"]["imaging_model"]
    assert check["ok"] is False and check["error"] == "ArtifactIntegrityError"
    assert str(active_model.parent) not in response.content.decode()


@pytest.mark.django_db
def test_with_no_active_model_the_check_is_left_out(client):
    assert "imaging_model" not in client.get("/health/ready").json()["checks"]
