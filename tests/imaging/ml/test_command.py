"""`manage.py train_imaging_models`: trains, registers and activates; --if-missing is idempotent;
fine-tuning a registered version on hospital data registers a new version beside it."""

import io

import pytest
from django.core.management import CommandError, call_command

from imaging.models import ImagingModelVersion

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def model_root(settings, tmp_path):
    settings.IMAGING_MODEL_ROOT = tmp_path / "models"
    return settings.IMAGING_MODEL_ROOT


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("train_imaging_models", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_trains_registers_activates_then_if_missing_does_nothing(model_root, medmnist_file):
    text = _run("--samples", "60", "--epochs", "1", "--name", "cmd-phantom")
    version = ImagingModelVersion.objects.get()
    assert version.is_active and version.is_synthetic and version.name == "cmd-phantom"
    assert (model_root / version.artifact_dir / "classifier.onnx").is_file()
    assert f"cmd-phantom {version.version} (active)" in text
    assert "macro AUROC" in text and "Dice" in text and "pointing game" in text
    assert "Demo model trained on synthetic images, not for clinical use." in text

    assert "nothing to train" in _run("--if-missing")
    assert ImagingModelVersion.objects.count() == 1

    text = _run(
        "--source",
        "medmnist",
        "--path",
        str(medmnist_file),
        "--class-names",
        "clear,nodule",
        "--normal-class",
        "clear",
        "--fine-tune",
        version.version,
        "--epochs",
        "1",
        "--no-activate",
    )
    tuned = ImagingModelVersion.objects.exclude(pk=version.pk).get()
    assert not tuned.is_active and tuned.name == "chestphantom-cnn"
    assert tuned.manifest["base"]["version"] == version.version
    assert tuned.manifest["training_data"]["source"] == "medmnist"
    assert "(not active)" in text and "carried over from the base" in text


def test_if_missing_trains_again_when_the_active_files_fail_their_check(model_root):
    _run("--samples", "60", "--epochs", "1", "--name", "cmd-phantom")
    version = ImagingModelVersion.objects.get()
    (model_root / version.artifact_dir / "head.npz").write_bytes(b"tampered")
    _run("--if-missing", "--samples", "60", "--epochs", "1", "--name", "cmd-phantom")
    assert ImagingModelVersion.objects.count() == 2
    assert ImagingModelVersion.objects.get(is_active=True).pk != version.pk


def test_bad_options_are_command_errors(model_root, tmp_path):
    with pytest.raises(CommandError, match="needs --path"):
        _run("--source", "folders")
    with pytest.raises(CommandError, match="needs --labels"):
        _run("--source", "dicom", "--path", str(tmp_path))
    with pytest.raises(CommandError, match="no such folder or registered version"):
        _run("--fine-tune", "20990101-000000-deadbeef")
    with pytest.raises(CommandError, match="at least two"):
        _run("--source", "folders", "--path", str(tmp_path))
