"""Imaging fixtures: a radiologist on the patient's team, real image bytes, and studies.

`study_make` writes a study row with real PNG files in storage and (for DONE) results written
the way the worker writes them; it is for page, API and selector tests. Tests of the analysis
itself use a trained bundle (`imaging_bundle`, tests/imaging/ml) and a real worker.
"""

import fcntl
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from imaging import storage
from imaging.models import Study, StudyReport
from tests import factories


def png_bytes(size: int = 128, seed: int = 0, mode: str = "L") -> bytes:
    """A real grey (or RGB) PNG: a bright ellipse with noise, not a blank square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    body = (((yy - size / 2) / (size * 0.4)) ** 2 + ((xx - size / 2) / (size * 0.3)) ** 2) < 1
    image = (body * 160 + rng.normal(0, 12, (size, size))).clip(0, 255).astype(np.uint8)
    if mode == "RGB":
        image = np.stack([image, image // 2, image], axis=-1)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def radiologist(db, team):
    """A radiologist on `team` (the patient's team)."""
    from patients.services import care_team_add_member

    user = factories.RadiologistFactory()
    care_team_add_member(team=team, user=user)
    return user


def study_make(
    *,
    patient: Any,
    by: Any,
    state: str = Study.State.DONE,
    modality: str = "CT",
    abnormal: float = 0.8,
    predicted: str = "nodule",
    version: Any = None,
    **overrides: Any,
) -> Study:
    """A study in `state`; DONE ones have results, files and an AI draft report."""
    name = storage.write(png_bytes(), ".png")
    fields: dict[str, Any] = {
        "patient": patient,
        "uploaded_by": by,
        "kind": Study.Kind.PNG,
        "file_name": name,
        "original_name": "scan.png",
        "size_bytes": 1000,
        "sha256": "0" * 64,
        "modality": modality,
        "body_part": "CHEST",
        "rows": 128,
        "columns": 128,
        "pixel_spacing_mm": [0.7, 0.7],
        "state": state,
    }
    if state == Study.State.DONE:
        frame = io.BytesIO()
        np.save(frame, np.linspace(-1000, 400, 128 * 128, dtype=np.float32).reshape(128, 128))
        rest = (1 - abnormal) / 2
        fields.update(
            model_version=version,
            probabilities={"normal": 1 - abnormal, "nodule": abnormal - rest, "opacity": rest}
            if predicted == "nodule"
            else {"normal": 1 - abnormal, "nodule": rest, "opacity": abnormal - rest},
            predicted_class=predicted,
            abnormal_probability=abnormal,
            key_frame=0,
            lesion_area_px=40,
            lesion_area_mm2=19.6,
            preview_name=storage.write(png_bytes(), ".png"),
            heatmap_name=storage.write(png_bytes(mode="RGB"), ".png"),
            mask_name=storage.write(png_bytes(), ".png"),
            frame_name=storage.write(frame.getvalue(), ".npy"),
            claimed_at=timezone.now(),
            finished_at=timezone.now(),
            attempts=1,
            timings={"queue": 5.0, "decode": 2.0, "classify": 10.0},
        )
    elif state == Study.State.FAILED:
        fields.update(failure_code="undecodable_pixels", failure_reason="The pixels are broken.")
    fields.update(overrides)
    study = Study.objects.create(**fields)
    if state == Study.State.DONE:
        from imaging.reports import report_draft_text

        text = report_draft_text(study)
        StudyReport.objects.create(study=study, draft_text=text, text=text)
    return study


@pytest.fixture
def make_study():
    return study_make


# --- a real trained bundle --------------------------------------------------------------------

TEST_BUNDLE_SAMPLES = 900
TEST_BUNDLE_EPOCHS = 8


@pytest.fixture(scope="session")
def imaging_bundle_folder() -> Path:
    """A small real bundle (classifier + U-Net on synthetic phantoms), trained once per run under
    IMAGING_MODEL_ROOT, which the worker processes share; a file lock lets one xdist worker train
    and the others reuse it. Training touches no database."""
    from django.conf import settings

    root = Path(str(settings.IMAGING_MODEL_ROOT))
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "trained.json"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                from imaging.ml.training import train_synthetic

                trained = train_synthetic(
                    root=root,
                    name="test-phantom-cnn",
                    samples=TEST_BUNDLE_SAMPLES,
                    epochs=TEST_BUNDLE_EPOCHS,
                    progress=False,
                )
                marker.write_text(json.dumps({"folder": str(trained.folder)}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Path(json.loads(marker.read_text())["folder"])


@dataclass
class ImagingModel:
    version: Any
    folder: Path

    def phantom_png(self, label: str, *, seed: int = 11) -> bytes:
        """A radiograph phantom of class `label` as an uploaded PNG."""
        from imaging.demo import png_bytes as encode
        from imaging.ml.phantoms import CLASSES, phantom_batch

        batch = phantom_batch(9, seed=seed, modalities=("DX",))
        index = int(np.flatnonzero(batch.labels == CLASSES.index(label))[0])
        return encode(batch.images[index])


@pytest.fixture
def imaging_model(imaging_bundle_folder, db) -> ImagingModel:
    """The session's bundle, registered and active in this test's database."""
    from imaging.loading import bundle_cache_clear
    from imaging.services import imaging_model_register

    bundle_cache_clear()
    version = imaging_model_register(folder=imaging_bundle_folder, activate=True)
    return ImagingModel(version=version, folder=imaging_bundle_folder)
