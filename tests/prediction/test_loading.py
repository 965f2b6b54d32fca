"""Models are loaded once per process, and only after file, manifest and database agree."""

import pytest

from healthmentor.artifacts import ArtifactIntegrityError
from prediction.loading import risk_model_folder, risk_model_get
from prediction.ml.model import RiskModel
from prediction.models import ModelVersion
from prediction.services import model_version_register
from tests.prediction.conftest import artifact_copy, artifact_tamper

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def copied(trained_risk_models, settings, tmp_path, clean_model_cache):
    """A registered copy of the diabetes artifact under a RISK_MODEL_ROOT of the test's own."""
    settings.RISK_MODEL_ROOT = tmp_path
    folder = artifact_copy(trained_risk_models["diabetes"], tmp_path)
    return model_version_register(folder=folder)


def test_a_model_is_loaded_once_per_process(copied):
    model = risk_model_get(copied)
    assert isinstance(model, RiskModel)
    assert model.disease == "diabetes"
    assert model.version == copied.version
    again = risk_model_get(ModelVersion.objects.get(pk=copied.pk))
    assert again is model


def test_a_tampered_model_file_is_refused(copied):
    artifact_tamper(risk_model_folder(copied))
    with pytest.raises(ArtifactIntegrityError):
        risk_model_get(copied)


def test_a_model_and_manifest_rewritten_together_are_refused_by_the_database_digest(copied):
    manifest = artifact_tamper(risk_model_folder(copied), rewrite_manifest=True)
    assert manifest["sha256"] != copied.sha256
    with pytest.raises(ArtifactIntegrityError, match="does not match its registration"):
        risk_model_get(copied)


def test_a_database_digest_that_differs_is_refused(copied):
    ModelVersion.objects.filter(pk=copied.pk).update(sha256="0" * 64)
    copied.refresh_from_db()
    with pytest.raises(ArtifactIntegrityError, match="0000"):
        risk_model_get(copied)


def test_a_missing_artifact_is_refused(copied):
    for path in risk_model_folder(copied).iterdir():
        path.unlink()
    with pytest.raises(ArtifactIntegrityError):
        risk_model_get(copied)
