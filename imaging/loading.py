"""Imaging bundles loaded once per worker process, and only after their checksums matched.

A bundle is trusted when the files on disk have the digests of its manifest and of the database
row copied at registration (ImagingBundle.load checks both before any ONNX session is created). Web
processes never call this: ONNX Runtime is imported when the first bundle loads.
"""

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from imaging.models import ImagingModelVersion

if TYPE_CHECKING:
    from imaging.ml.serving import ImagingBundle

_loaded: dict[tuple[int, str, str], "ImagingBundle"] = {}
_lock = threading.Lock()


def imaging_model_root() -> Path:
    return Path(str(settings.IMAGING_MODEL_ROOT))


def imaging_model_folder(version: ImagingModelVersion) -> Path:
    return imaging_model_root() / version.artifact_dir


def bundle_get(version: ImagingModelVersion) -> "ImagingBundle":
    """The loaded bundle of `version`; ArtifactIntegrityError when disk, manifest and row
    disagree (such a model analyses nothing)."""
    folder = imaging_model_folder(version)
    key = (version.pk, version.sha256, str(folder))
    bundle = _loaded.get(key)
    if bundle is not None:
        return bundle
    from imaging.ml.serving import ImagingBundle

    with _lock:
        bundle = _loaded.get(key)
        if bundle is None:
            bundle = ImagingBundle.load(folder, expected_files=dict(version.files))
            _loaded[key] = bundle
    return bundle


def bundle_cache_clear() -> None:
    with _lock:
        _loaded.clear()
