"""prediction.ml is Django-free and its features point at the catalog's codes and units."""

import ast
import subprocess
import sys
from pathlib import Path

from patients.catalog import OBSERVATION_TYPES
from prediction.ml.diseases import DISEASES

ROOT = Path(__file__).resolve().parents[3]
SOURCES = {
    "observation",
    "age",
    "sex_male",
    "condition",
    "family_history",
    "genetic",
    "smoking",
    "medication",
    "entered",
}


def _imported_by(code: str) -> list[str]:
    """Top-level packages of Django and of our apps that `code` leaves in sys.modules."""
    probe = (
        code + "\nimport sys\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', "
        "'accounts', 'patients', 'imaging', 'recommendations', 'dashboards', 'shap'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_prediction_ml_imports_neither_django_nor_an_app():
    # healthmentor/__init__.py starts the Celery app, and kombu imports bits of Django when it is
    # installed: not prediction.ml's doing. Load the healthmentor package without its __init__ so
    # that only prediction.ml and healthmentor.artifacts are measured.
    bare_healthmentor = (
        "import sys, types\n"
        "package = types.ModuleType('healthmentor')\n"
        f"package.__path__ = [{str(ROOT / 'healthmentor')!r}]\n"
        "sys.modules['healthmentor'] = package\n"
    )
    modules = "prediction.ml.training, prediction.ml.model, prediction.ml.metrics"
    assert _imported_by(bare_healthmentor + f"import {modules}") == []  # shap is lazy too


def test_features_use_catalog_codes_units_and_ranges():
    for disease in DISEASES.values():
        names = [f.name for f in disease.features]
        assert len(names) == len(set(names)), disease.key
        for feature in disease.features:
            assert feature.kind in {"numeric", "integer", "binary"}
            assert feature.low < feature.high
            assert feature.source["type"] in SOURCES, feature
            if feature.kind == "binary":
                assert (feature.low, feature.high, feature.unit) == (0, 1, "")
            if feature.source["type"] == "observation":
                kind = OBSERVATION_TYPES[feature.source["code"]]
                assert feature.unit == kind.unit, feature.name
                assert kind.low <= feature.low and feature.high <= kind.high, feature.name
            if feature.source["type"] in {"condition", "family_history"}:
                assert feature.source["codes"], feature.name


def test_every_disease_carries_its_provenance():
    assert set(DISEASES) == {
        "diabetes",
        "breast_cancer",
        "heart_disease",
        "mi_mortality",
        "ischemic_stroke",
    }
    for disease in DISEASES.values():
        for text in (
            disease.title,
            disease.outcome,
            disease.dataset,
            disease.package,
            disease.loader,
            disease.licence,
            disease.citation,
            disease.intended_use,
        ):
            assert text.strip()
        assert disease.caveats and disease.published and disease.max_age_days > 0
