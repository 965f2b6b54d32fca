"""Training bundles: the synthetic demo learns, hospital data train a classifier, fine-tuning
records its base, and a failed export leaves nothing that looks like a bundle."""

import json

import numpy as np
import pytest

from imaging.ml.datasets import folders_load, medmnist_load
from imaging.ml.serving import ImagingBundle
from imaging.ml.training import train_labelled, train_synthetic

pytestmark = pytest.mark.slow


def test_the_small_synthetic_bundle_learns(bundle_folder):
    manifest = json.loads((bundle_folder / "manifest.json").read_text())
    metrics = manifest["metrics"]
    assert metrics["classifier"]["macro_auroc"] > 0.75
    assert metrics["classifier"]["n_test"] == 180
    assert sum(map(sum, metrics["classifier"]["confusion_matrix"])) == 180
    lesion_images = 180 - sum(metrics["classifier"]["confusion_matrix"][0])
    assert metrics["segmenter"]["n_test"] == metrics["heatmap"]["n_test"] == lesion_images
    assert metrics["segmenter"]["dice"] > 0.3
    assert manifest["training"]["epochs"] == 8 and manifest["training"]["samples"] == 900
    assert manifest["training_data"]["counts"]["total"] == 900
    assert (
        manifest["base"] is None and manifest["export"]["max_abs_difference_onnx_vs_keras"] < 1e-4
    )
    # Written beside its final name and renamed: no staging folder is left behind.
    assert [p.name for p in bundle_folder.parent.iterdir()] == [bundle_folder.name]


def test_labelled_folders_train_a_classifier_without_segmenter(png_folders, tmp_path):
    data = folders_load(png_folders)
    trained = train_labelled(data, root=tmp_path, name="folders-cnn", epochs=2, progress=False)
    manifest = trained.manifest
    assert trained.folder.parent == tmp_path / "folders-cnn"
    assert manifest["is_synthetic"] is False and manifest["base"] is None
    assert manifest["training_data"]["source"] == "folders"
    assert manifest["classes"] == list(data.classes) and manifest["normal_class"] == "normal"
    assert manifest["metrics"]["segmenter"] is None and manifest["metrics"]["heatmap"] is None
    assert manifest["metrics"]["classifier"]["n_test"] == int((data.split == "test").sum())
    assert "segmenter.onnx" not in manifest["files"]
    assert (
        manifest["card_warning"] != "Demo model trained on synthetic images, not for clinical use."
    )
    bundle = ImagingBundle.load(trained.folder, expected_files=manifest["files"])
    probabilities, features = bundle.classify(data.images[:2])
    assert probabilities.shape == (2, 3)
    assert bundle.heatmap(features[0], 1).shape == (128, 128)


def test_fine_tuning_on_medmnist_records_its_base_and_keeps_the_segmenter(
    bundle_folder, medmnist_file, tmp_path
):
    data = medmnist_load(medmnist_file, class_names=["clear", "nodule"])
    trained = train_labelled(
        data,
        root=tmp_path,
        name="tuned-cnn",
        epochs=2,
        base=bundle_folder,
        normal_class="clear",
        progress=False,
    )
    manifest = trained.manifest
    base = json.loads((bundle_folder / "manifest.json").read_text())
    assert manifest["base"]["name"] == base["name"]
    assert manifest["base"]["version"] == base["version"]
    assert manifest["base"]["sha256"] == base["sha256"]
    assert manifest["base"]["source"] == "synthetic"
    assert manifest["training_data"]["source"] == "medmnist"
    assert manifest["classes"] == ["clear", "nodule"] and manifest["normal_class"] == "clear"
    # Two classes instead of three: a new head; the segmenter is the base's, byte for byte.
    assert manifest["files"]["segmenter.onnx"] == base["files"]["segmenter.onnx"]
    assert manifest["metrics"]["segmenter"]["carried_over_from"] == (
        f"{base['name']} {base['version']}"
    )
    assert any("carried over" in line for line in manifest["limitations"])
    assert manifest["training"]["history"][0]["loss"] > 0
    bundle = ImagingBundle.load(trained.folder)
    assert bundle.has_segmenter and bundle.kernel.shape == (160, 2)


def test_fine_tuning_the_synthetic_model_on_phantoms(bundle_folder, tmp_path):
    trained = train_synthetic(
        root=tmp_path, name="retuned", samples=60, epochs=1, base=bundle_folder, progress=False
    )
    assert trained.manifest["base"]["version"] == bundle_folder.name
    assert trained.manifest["is_synthetic"] is True
    assert trained.manifest["metrics"]["segmenter"] is not None


def test_a_failed_export_leaves_no_bundle(png_folders, tmp_path, monkeypatch):
    from imaging.ml.training import bundle as bundle_module

    def broken(*args, **kwargs):
        raise bundle_module.ExportError("simulated")

    monkeypatch.setattr(bundle_module, "_parity", broken)
    with pytest.raises(bundle_module.ExportError):
        train_labelled(
            folders_load(png_folders), root=tmp_path, name="broken", epochs=1, progress=False
        )
    assert list((tmp_path / "broken").iterdir()) == []


def test_options_are_checked(png_folders, tmp_path):
    data = folders_load(png_folders)
    with pytest.raises(ValueError, match="Normal class 'healthy'"):
        train_labelled(data, root=tmp_path, name="x", normal_class="healthy", progress=False)
    with pytest.raises(ValueError, match="lower-case"):
        train_labelled(data, root=tmp_path, name="Bad Name", epochs=1, progress=False)
    with pytest.raises(ValueError, match="at least 30 samples"):
        train_synthetic(root=tmp_path, samples=10, progress=False)


def test_progress_goes_to_the_given_stream(png_folders, tmp_path):
    import io

    stream = io.StringIO()
    train_labelled(folders_load(png_folders), root=tmp_path, name="chatty", epochs=1, stream=stream)
    text = stream.getvalue()
    assert "epoch 1/1" in text and "saved" in text
    assert "\r" not in text  # not a terminal: lines, no bars
    assert np.isfinite(float(text.split("loss ")[1].split()[0].rstrip(",")))
