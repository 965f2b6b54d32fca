"""Fixtures of the prediction.ml tests: no Django, no database. Each disease is trained once per
test session (training is deterministic, so every test may share the result)."""

from pathlib import Path

import pytest

from prediction.ml.diseases import DISEASES
from prediction.ml.training import TrainedModel, save_trained, train_disease

# Tree algorithms trained on their own (on the small heart data) so that every explanation path
# is tested, whichever algorithm the comparison picks for the real models.
TREE_ALGORITHMS = ("decision_tree", "gradient_boosting", "random_forest")


@pytest.fixture(scope="session")
def trained() -> dict[str, TrainedModel]:
    """{disease: TrainedModel} of every disease, default seed."""
    return {key: train_disease(key) for key in DISEASES}


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("risk-models")


@pytest.fixture(scope="session")
def saved(trained: dict[str, TrainedModel], model_root: Path) -> dict[str, Path]:
    """{disease: artifact folder}."""
    return {key: save_trained(model, model_root) for key, model in trained.items()}


@pytest.fixture(scope="session")
def saved_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{algorithm: artifact folder} of heart-disease models forced to each tree algorithm."""
    root = tmp_path_factory.mktemp("tree-models")
    return {
        name: save_trained(train_disease("heart_disease", algorithms=[name]), root)
        for name in TREE_ALGORITHMS
    }
