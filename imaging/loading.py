"""Imaging bundles loaded once per worker process, and only after their checksums matched.

A bundle is trusted when the files on disk have the digests of its manifest and of the database
row copied at registration (ImagingBundle.load checks both before any ONNX session is created). Web
processes never call this: ONNX Runtime is imported when the first bundle loads.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from healthmentor.artifacts import ArtifactIntegrityError, LoadedOnce, sha256_file
from healthmentor.health import NotApplicable
from imaging.models import ImagingModelVersion

if TYPE_CHECKING:
    from imaging.ml.serving import ImagingBundle

_loaded: LoadedOnce["ImagingBundle"] = LoadedOnce()
# Readiness re-hashes a file only when its size or modification time changed.
_digests: dict[tuple[str, int, int], str] = {}


def imaging_model_root() -> Path:
    return Path(str(settings.IMAGING_MODEL_ROOT))


def imaging_model_folder(version: ImagingModelVersion) -> Path:
    return imaging_model_root() / version.artifact_dir


def bundle_get(version: ImagingModelVersion) -> "ImagingBundle":
    """The loaded bundle of `version`; ArtifactIntegrityError when disk, manifest and row
    disagree (such a model analyses nothing)."""
    folder = imaging_model_folder(version)

    def load() -> "ImagingBundle":
        from imaging.ml.serving import ImagingBundle

        return ImagingBundle.load(folder, expected_files=dict(version.files))

    return _loaded.get((version.pk, version.sha256, str(folder)), load)


def bundle_cache_clear() -> None:
    _loaded.clear()


def active_bundle_verify() -> None:
    """Readiness check: the active imaging model's files on disk still have the digests copied at
    registration (ArtifactIntegrityError otherwise, so /health/ready goes red while workers
    refuse the model). NotApplicable when no model is active."""
    version = ImagingModelVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NotApplicable
    folder = imaging_model_folder(version)
    for name, expected in dict(version.files).items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            raise ArtifactIntegrityError("an imaging model file is missing") from None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        digest = _digests.get(key)
        if digest is None:
            digest = _digests[key] = sha256_file(path)
        if digest != str(expected).lower():
            raise ArtifactIntegrityError("an imaging model file failed its integrity check")
