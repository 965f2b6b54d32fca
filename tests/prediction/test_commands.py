"""`train_risk_models` and `model_cards`."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from prediction.management.commands import train_risk_models as train_command
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion
from prediction.services import model_version_activate, model_version_register

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def trainings(monkeypatch):
    """The diseases the command trains, in order (the real training still runs)."""
    calls: list[str] = []
    real = train_command.train_disease

    def spy(key, **kwargs):
        calls.append(key)
        return real(key, **kwargs)

    monkeypatch.setattr(train_command, "train_disease", spy)
    return calls


def test_train_if_missing_trains_what_is_missing_then_nothing(
    trained_risk_models, risk_model_root, settings, tmp_path, trainings
):
    for key, folder in trained_risk_models.items():
        if key != "ischemic_stroke":
            model_version_activate(by=None, version=model_version_register(folder=folder))
    settings.RISK_MODEL_ROOT = tmp_path / "models"

    out, err = run("train_risk_models", "--if-missing")
    assert trainings == ["ischemic_stroke"]
    stroke = ModelVersion.objects.get(disease="ischemic_stroke")
    assert stroke.is_active
    assert (tmp_path / "models" / stroke.artifact_dir / "manifest.json").exists()
    assert "ischemic_stroke" in err and " s " in err  # a progress line with elapsed seconds
    assert "activated (none was active)" in out
    header = out.splitlines()[0].split()
    assert header[:2] == ["disease", "algorithm"]
    assert stroke.version in out

    out, err = run("train_risk_models", "--if-missing")
    assert trainings == ["ischemic_stroke"]  # the second run trained nothing
    assert "nothing to train" in out
    assert ModelVersion.objects.count() == len(DISEASES)


def test_training_leaves_the_administrators_choice_active(
    active_risk_models, settings, tmp_path, trainings
):
    settings.RISK_MODEL_ROOT = tmp_path
    chosen = active_risk_models["ischemic_stroke"]
    out, _ = run("train_risk_models", "--disease", "ischemic_stroke", "--seed", "7")
    assert trainings == ["ischemic_stroke"]
    chosen.refresh_from_db()
    assert chosen.is_active
    assert ModelVersion.objects.filter(disease="ischemic_stroke", is_active=True).count() == 1
    assert f"{chosen.version} stays active" in out or "already the active version" in out


def test_model_cards_json_lists_the_five_active_cards(active_risk_models):
    out, _ = run("model_cards", "--json")
    cards = json.loads(out)
    assert len(cards) == 5
    assert {card["disease"] for card in cards} == set(DISEASES)
    for card in cards:
        assert card["kind"] == "risk"
        assert card["synthetic"] is False
        assert card["version"] == active_risk_models[card["disease"]].version
        assert {"name", "dataset", "metrics"} <= set(card)
        assert card["metrics"]["auroc"] > 0.5


def test_model_cards_without_models(db):
    assert json.loads(run("model_cards", "--json")[0]) == []
    assert run("model_cards")[0].strip() == "No active model."


def test_model_cards_as_text(active_risk_models):
    out, _ = run("model_cards")
    assert len(out.strip().splitlines()) == 5
    assert "AUROC" in out
