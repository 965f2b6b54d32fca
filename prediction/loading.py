"""Risk models loaded once per process, and only after their checksums matched.

An artifact is trusted when three digests agree: the model file's own (recomputed on load by
prediction.ml.model.load_risk_model through healthmentor.artifacts), its manifest's, and the one
the database copied at registration. A file swapped on disk after registration, with a manifest
rewritten to match, is still refused: the database row is the anchor.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from healthmentor.artifacts import LoadedOnce, registration_check
from prediction.models import ModelVersion

if TYPE_CHECKING:  # scikit-learn is imported when the first model loads, not with every process
    from prediction.ml.model import RiskModel

# Keyed by row, digest and folder: a test database reuses ids, and RISK_MODEL_ROOT may change.
_loaded: LoadedOnce["RiskModel"] = LoadedOnce()


def risk_model_root() -> Path:
    """settings.RISK_MODEL_ROOT as a Path (django-environ gives its own Path type)."""
    return Path(str(settings.RISK_MODEL_ROOT))


def risk_model_folder(version: ModelVersion) -> Path:
    """The artifact folder of `version` (its artifact_dir is relative to RISK_MODEL_ROOT)."""
    return risk_model_root() / version.artifact_dir


def risk_model_get(version: ModelVersion) -> "RiskModel":
    """The loaded model of `version`, from this process's cache after the first call.

    Raises ArtifactIntegrityError when the file, its manifest and the database row disagree
    (or the artifact is missing): such a model never scores anybody."""
    folder = risk_model_folder(version)

    def load() -> "RiskModel":
        from prediction.ml.model import load_risk_model

        model = load_risk_model(folder)
        registration_check(
            what="Model artifact",
            folder=folder,
            manifest=model.manifest,
            sha256=version.sha256,
            found=(model.disease, model.version),
            registered=(version.disease, version.version),
        )
        return model

    return _loaded.get((version.pk, version.sha256, str(folder)), load)


def risk_model_cache_clear() -> None:
    """Forget every loaded model (tests; a long-lived process after artifacts were replaced)."""
    _loaded.clear()
