"""imaging.ml is bare Python: no Django, no app; serving and preprocessing never load TensorFlow,
and serving loads ONNX Runtime only when a bundle is loaded."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WATCHED = {
    "django",
    "rest_framework",
    "accounts",
    "patients",
    "prediction",
    "recommendations",
    "dashboards",
    "tensorflow",
    "keras",
    "onnxruntime",
    "tf2onnx",
}


def _imported_by(code: str) -> list[str]:
    """Top-level packages among WATCHED (and imaging apps) that `code` leaves in sys.modules."""
    # healthmentor/__init__.py starts the Celery app (which pulls in Django bits): load the
    # package without it, so that only healthmentor.artifacts is measured.
    probe = (
        "import sys, types\n"
        "package = types.ModuleType('healthmentor')\n"
        f"package.__path__ = [{str(ROOT / 'healthmentor')!r}]\n"
        "sys.modules['healthmentor'] = package\n"
        f"{code}\n"
        f"watched = {sorted(WATCHED)!r}\n"
        "app = {m for m in sys.modules if m.startswith('imaging.') and m.split('.')[1] not in "
        "('ml', 'intake')}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(watched) | app))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_serving_preprocessing_phantoms_metrics_and_datasets_need_no_framework():
    modules = (
        "imaging.ml.serving, imaging.ml.preprocess, imaging.ml.phantoms, imaging.ml.metrics, "
        "imaging.ml.datasets"
    )
    assert _imported_by(f"import {modules}") == []


def test_training_brings_tensorflow_but_no_django_or_app():
    imported = _imported_by("import imaging.ml.training, imaging.ml.networks")
    assert set(imported) <= {"tensorflow", "keras", "tf2onnx", "onnxruntime"}
    assert "tensorflow" in imported
