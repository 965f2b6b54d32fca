"""Serving a bundle with ONNX Runtime: it computes what Keras computes, its heatmap is Grad-CAM,
and nothing runs unless every file is the one the manifest and the registration name."""

import json

import numpy as np
import pytest

from healthmentor.artifacts import ArtifactIntegrityError, manifest_write, sha256_file
from imaging.ml.phantoms import CLASSES, phantom_batch
from imaging.ml.serving import ImagingBundle, NoSegmenterError, class_activation_map

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lesions():
    """Twelve phantoms (four per modality and class mix), lesion ones first."""
    batch = phantom_batch(18, seed=99)
    order = np.argsort(batch.labels == 0, kind="stable")
    return batch.images[order][:12], batch.labels[order][:12]


@pytest.fixture(scope="module")
def keras_classifier(bundle_folder):
    import keras

    return keras.models.load_model(bundle_folder / "classifier.keras", compile=False)


def test_onnx_probabilities_and_features_equal_keras(bundle, keras_classifier, lesions):
    images, _ = lesions
    probabilities, features = bundle.classify(images)
    keras_probabilities, keras_features = keras_classifier(images[..., None], training=False)
    assert probabilities.shape == (12, 3) and features.shape[:3] == (12, 16, 16)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.abs(probabilities - np.asarray(keras_probabilities)).max() < 1e-4
    assert np.abs(features - np.asarray(keras_features)).max() < 1e-3


def test_heatmap_equals_tensorflow_grad_cam(bundle, keras_classifier, lesions):
    import keras
    import tensorflow as tf

    images, labels = lesions
    _, features = bundle.classify(images)
    # Grad-CAM (Selvaraju et al.): gradient of the class's pre-softmax logit w.r.t. the last
    # feature maps, averaged per map; weighted sum of the maps; ReLU; bilinear upsampling
    # (half-pixel centres, tf.image.resize); divided by its maximum.
    graph = keras.Model(
        keras_classifier.input,
        [
            keras_classifier.get_layer("logits").output,
            keras_classifier.get_layer("features").output,
        ],
    )
    compared = 0
    for i in range(len(images)):
        for class_index in {int(labels[i]), 0}:
            x = tf.constant(images[i : i + 1, ..., None])
            with tf.GradientTape() as tape:
                logits, maps = graph(x, training=False)
                score = logits[:, class_index]
            gradients = tape.gradient(score, maps)
            weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1, keepdims=True))
            cam = tf.image.resize(cam, (128, 128), method="bilinear")[0, ..., 0].numpy()
            if cam.max() <= 0:
                continue
            expected = cam / cam.max()
            heatmap = bundle.heatmap(features[i], class_index)
            assert heatmap.shape == (128, 128) and heatmap.dtype == np.float32
            assert heatmap.max() == pytest.approx(1.0)
            assert np.abs(heatmap - expected).max() < 1e-3, (i, class_index)
            compared += 1
    assert compared >= 12


def test_heatmap_of_an_inactive_class_is_zeros():
    features = np.ones((4, 4, 2), np.float32)
    kernel = np.array([[1.0, -1.0], [1.0, -1.0]], np.float32)
    assert not class_activation_map(features, kernel, 1, 32).any()
    assert class_activation_map(features, kernel, 0, 32).max() == 1.0
    with pytest.raises(IndexError):
        class_activation_map(features, kernel, 2, 32)


def test_segmentation_finds_the_lesion(bundle, lesions):
    images, labels = lesions
    assert bundle.has_segmenter
    probabilities = np.stack([bundle.segment(image) for image in images])
    assert probabilities.shape == (12, 128, 128)
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    assert probabilities[labels > 0].max(axis=(1, 2)).mean() > 0.5


def test_the_bundle_describes_itself_per_the_contract(bundle, bundle_folder):
    manifest = bundle.manifest
    for key in (
        "name",
        "version",
        "created_at",
        "classes",
        "normal_class",
        "input_size",
        "modalities",
        "is_synthetic",
        "sha256",
        "files",
        "training_data",
        "metrics",
        "parameters",
        "intended_use",
        "limitations",
        "card_warning",
    ):
        assert key in manifest, key
    assert bundle.classes == CLASSES and bundle.normal_class == "normal"
    assert bundle.input_size == 128 and bundle.is_synthetic
    assert (
        manifest["card_warning"] == "Demo model trained on synthetic images, not for clinical use."
    )
    assert set(manifest["files"]) == {
        "classifier.onnx",
        "head.npz",
        "segmenter.onnx",
        "classifier.keras",
        "segmenter.keras",
    }
    for name, digest in manifest["files"].items():
        assert sha256_file(bundle_folder / name) == digest
    assert manifest["sha256"] == manifest["files"]["classifier.onnx"]
    assert bundle_folder.name == manifest["version"]
    assert set(manifest["metrics"]["classifier"]) >= {
        "auroc_per_class",
        "macro_auroc",
        "accuracy",
        "confusion_matrix",
        "n_test",
    }
    assert set(manifest["metrics"]["segmenter"]) == {"dice", "iou", "n_test"}
    assert {"pointing_game", "n_test"} <= set(manifest["metrics"]["heatmap"])
    assert 300_000 <= manifest["parameters"]["classifier"] <= 600_000
    assert manifest["training_data"]["source"] == "synthetic"
    assert isinstance(manifest["limitations"], list) and manifest["limitations"]
    # Even the small test bundle has learnt: far better than chance on held-out phantoms.
    assert manifest["metrics"]["classifier"]["macro_auroc"] > 0.8


def test_input_shapes_are_checked(bundle):
    with pytest.raises(ValueError, match=r"\(N, 128, 128\)"):
        bundle.classify(np.zeros((1, 64, 64), np.float32))
    with pytest.raises(ValueError, match="features"):
        bundle.heatmap(np.zeros((16, 16, 3), np.float32), 0)


@pytest.fixture
def sessions(monkeypatch):
    """Every onnxruntime session created while the test runs."""
    import onnxruntime

    created = []
    real = onnxruntime.InferenceSession

    def recording(*args, **kwargs):
        created.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", recording)
    return created


@pytest.mark.parametrize("name", ["classifier.onnx", "head.npz", "segmenter.onnx"])
def test_a_changed_file_is_refused_before_any_session(bundle_copy, sessions, name):
    path = bundle_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=f"{name} has sha256 .* but its manifest"):
        ImagingBundle.load(bundle_copy)
    assert sessions == []


def test_a_manifest_rewritten_to_match_is_caught_by_the_registered_digests(
    bundle_copy, bundle_folder, sessions
):
    registered = dict(json.loads((bundle_folder / "manifest.json").read_text())["files"])
    path = bundle_copy / "segmenter.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"]["segmenter.onnx"] = sha256_file(path)
    manifest_write(bundle_copy, manifest)
    with pytest.raises(ArtifactIntegrityError, match=r"recorded at registration \(segmenter"):
        ImagingBundle.load(bundle_copy, expected_files=registered)
    assert sessions == []


def test_missing_files_and_manifests_are_refused(bundle_copy, sessions):
    (bundle_copy / "segmenter.onnx").unlink()
    with pytest.raises(ArtifactIntegrityError, match=r"segmenter\.onnx is missing"):
        ImagingBundle.load(bundle_copy)
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"]["../outside"] = "0" * 64
    manifest_write(bundle_copy, manifest)
    with pytest.raises(ArtifactIntegrityError, match="outside its folder"):
        ImagingBundle.load(bundle_copy)
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactIntegrityError, match=r"manifest\.json is missing"):
        ImagingBundle.load(bundle_copy)
    assert sessions == []


def test_the_registered_digests_load_the_untouched_bundle(bundle_folder, sessions):
    files = json.loads((bundle_folder / "manifest.json").read_text())["files"]
    loaded = ImagingBundle.load(bundle_folder, expected_files=files)
    assert loaded.version and len(sessions) == 2


def test_a_bundle_without_segmenter_says_so(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    for name in ("segmenter.onnx", "segmenter.keras"):
        del manifest["files"][name]
        (bundle_copy / name).unlink()
    manifest_write(bundle_copy, manifest)
    loaded = ImagingBundle.load(bundle_copy)
    assert not loaded.has_segmenter
    with pytest.raises(NoSegmenterError):
        loaded.segment(np.zeros((128, 128), np.float32))
