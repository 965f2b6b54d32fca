"""The treatment-benefit model on the web side: registration, activation, integrity checks, the
estimate for a patient's facts, and `manage.py train_benefit_models`."""

import json
import shutil
from dataclasses import replace
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from accounts.models import AuditEvent
from healthmentor.artifacts import ArtifactIntegrityError
from recommendations.benefit import (
    benefit_estimate_for_facts,
    benefit_model_activate,
    benefit_model_active,
    benefit_model_cache_clear,
    benefit_model_cards_active,
    benefit_model_get,
    benefit_model_register,
)
from recommendations.engine.facts import BenefitEstimate, ConditionFact
from recommendations.models import BenefitModelVersion
from tests.recommendations import benefit_fixtures
from tests.recommendations.rules.helpers import facts

# The shared fixtures (tests/recommendations/conftest.py may import them instead).
benefit_artifact_folder = benefit_fixtures.benefit_artifact_folder
benefit_model = benefit_fixtures.benefit_model


TUMOUR_SIZE, NODES, ER, PR, GRADE = "21889-1", "21893-3", "14130-9", "14230-7", "21858-6"
TUMOUR = {TUMOUR_SIZE: 25, NODES: 3, ER: 36, PR: 32, GRADE: 2}


def patient(*, age=58, sex="female", conditions=("C50.911",), values=None):
    return facts(
        age=age, sex=sex, conditions=conditions, values=TUMOUR if values is None else values
    )


def copy_artifact(source, root, version):
    """A copy of the artifact registered as another version (same file, manifest renamed)."""
    folder = root / source.parent.name / version
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["version"] = version
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def tamper(folder):
    path = folder / "model.skops"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def root(benefit_artifact_folder, settings, tmp_path):
    """A private BENEFIT_MODEL_ROOT holding a copy of the session's artifact."""
    settings.BENEFIT_MODEL_ROOT = tmp_path
    benefit_model_cache_clear()
    shutil.copytree(benefit_artifact_folder, tmp_path / "gbsg2_hormonal" / "original")
    return tmp_path


# --- registry -----------------------------------------------------------------------------


def test_registration_copies_the_manifest_and_is_idempotent(benefit_artifact_folder, root, db):
    folder = root / "gbsg2_hormonal" / "original"
    version = benefit_model_register(folder=folder)
    assert version.name == "gbsg2_hormonal"
    assert version.version == benefit_artifact_folder.name
    assert version.artifact_dir == "gbsg2_hormonal/original"
    assert version.sha256 == version.manifest["sha256"]
    assert version.manifest["metrics"]["n_patients"] == 686
    assert not version.is_active
    assert benefit_model_register(folder=folder).pk == version.pk
    assert BenefitModelVersion.objects.count() == 1
    events = AuditEvent.objects.filter(object_id=str(version.public_id))
    assert list(events.values_list("action", flat=True)) == ["create"]


def test_activation_keeps_one_active_version(benefit_artifact_folder, root, db):
    first = benefit_model_register(folder=root / "gbsg2_hormonal" / "original")
    benefit_model_activate(version=first)
    second = benefit_model_register(
        folder=copy_artifact(root / "gbsg2_hormonal" / "original", root, "second")
    )
    benefit_model_activate(version=second)
    first.refresh_from_db()
    assert not first.is_active
    assert benefit_model_active() == second
    assert [card["version"] for card in benefit_model_cards_active()] == ["second"]
    assert benefit_model_activate(version=second).is_active  # again: nothing changes
    actions = AuditEvent.objects.filter(object_id=str(second.public_id)).values_list(
        "action", flat=True
    )
    assert sorted(actions) == ["create", "update"]


def test_a_folder_outside_the_model_root_is_refused(benefit_artifact_folder, root, db):
    with pytest.raises(ValidationError):
        benefit_model_register(folder=benefit_artifact_folder.parent.parent.parent / "elsewhere")


def test_a_tampered_file_is_refused_at_registration_activation_and_loading(root, db):
    folder = root / "gbsg2_hormonal" / "original"
    version = benefit_model_register(folder=folder)
    tamper(folder)
    with pytest.raises(ArtifactIntegrityError):
        benefit_model_register(folder=folder)
    with pytest.raises(ArtifactIntegrityError):
        benefit_model_activate(version=version)
    version.refresh_from_db()
    assert not version.is_active
    with pytest.raises(ArtifactIntegrityError):
        benefit_model_get(version)


def test_a_manifest_rewritten_to_match_a_swapped_file_is_refused(root, db):
    """The database row is the anchor: a new file with a matching manifest is still refused."""
    from healthmentor.artifacts import sha256_file

    folder = root / "gbsg2_hormonal" / "original"
    version = benefit_model_register(folder=folder)
    tamper(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"] = sha256_file(folder / "model.skops")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError):
        benefit_model_get(version)


def test_an_active_model_whose_file_was_tampered_gives_no_estimate(root, db):
    folder = root / "gbsg2_hormonal" / "original"
    benefit_model_activate(version=benefit_model_register(folder=folder))
    benefit_model_cache_clear()
    tamper(folder)
    assert benefit_estimate_for_facts(patient()) is None


# --- estimates for facts --------------------------------------------------------------------


def test_a_woman_with_breast_cancer_gets_an_estimate(benefit_model):
    estimate = benefit_estimate_for_facts(patient(age=58))
    assert isinstance(estimate, BenefitEstimate)
    assert estimate.cohort == "GBSG2 trial, 686 patients"
    assert estimate.model == f"gbsg2_hormonal {benefit_model.version}"
    assert estimate.horizon_years == 5
    assert estimate.rfs_with != estimate.rfs_without
    assert estimate.difference == pytest.approx(estimate.rfs_with - estimate.rfs_without)
    assert estimate.ci_difference[0] <= estimate.difference <= estimate.ci_difference[1]
    assert estimate.inputs["menopause"] == {"value": "post", "basis": "age >= 50"}
    assert estimate.inputs["positive_nodes"]["value"] == 3
    assert estimate.inputs["tumour_size_mm"]["code"] == TUMOUR_SIZE
    json.dumps(estimate.inputs)  # stored in a JSONField as it is


def test_menopausal_status_comes_from_the_record_before_age(benefit_model):
    young = benefit_estimate_for_facts(patient(age=45))
    recorded = benefit_estimate_for_facts(patient(age=45, conditions=("C50.911", "N95.1")))
    assert young is not None and recorded is not None
    assert young.inputs["menopause"] == {"value": "pre", "basis": "age < 50"}
    assert recorded.inputs["menopause"] == {"value": "post", "basis": "condition N95.1"}
    assert young.rfs_with != recorded.rfs_with


@pytest.mark.parametrize(
    "who",
    [
        pytest.param({"sex": "male"}, id="male"),
        pytest.param({"conditions": ("E11.9",)}, id="no-breast-cancer"),
        pytest.param({"conditions": ()}, id="no-conditions"),
        pytest.param({"age": None}, id="no-age"),
        pytest.param({"values": {k: v for k, v in TUMOUR.items() if k != ER}}, id="no-er"),
        pytest.param({"values": {k: v for k, v in TUMOUR.items() if k != NODES}}, id="no-nodes"),
        pytest.param({"values": {}}, id="no-tumour-values"),
        pytest.param({"values": {**TUMOUR, NODES: 0}}, id="node-negative"),
        pytest.param({"age": 88}, id="older-than-the-cohort"),
    ],
)
def test_no_estimate_for_patients_the_model_does_not_describe(benefit_model, who):
    assert benefit_estimate_for_facts(patient(**who)) is None


def test_an_observation_in_a_foreign_unit_gives_no_estimate(benefit_model):
    base = patient()
    odd = replace(base.observations[ER], unit="%")
    assert (
        benefit_estimate_for_facts(replace(base, observations={**base.observations, ER: odd}))
        is None
    )


def test_no_estimate_without_an_active_model(db):
    assert benefit_model_active() is None
    assert benefit_estimate_for_facts(patient()) is None


def test_a_recorded_condition_is_matched_by_its_icd10_prefix(benefit_model):
    base = patient(conditions=())
    with_cancer = replace(base, conditions=(ConditionFact("C50.4", "Breast cancer"),))
    assert benefit_estimate_for_facts(with_cancer) is not None


# --- the management command ---------------------------------------------------------------


def test_if_missing_keeps_a_verified_active_model(benefit_model):
    out = StringIO()
    call_command("train_benefit_models", "--if-missing", stdout=out, stderr=StringIO())
    assert "nothing to train" in out.getvalue()
    assert BenefitModelVersion.objects.count() == 1


@pytest.mark.slow
def test_if_missing_retrains_when_the_active_files_fail_their_check(
    benefit_artifact_folder,
    root,
    db,
):
    """Training is deterministic: the default seed rebuilds the very version that was tampered
    with, and the command registers, activates and reports it."""
    folder = root / "gbsg2_hormonal" / benefit_artifact_folder.name  # where training writes it
    shutil.copytree(benefit_artifact_folder, folder)
    tampered = benefit_model_activate(version=benefit_model_register(folder=folder))
    tamper(folder)
    benefit_model_cache_clear()
    out, err = StringIO(), StringIO()
    call_command("train_benefit_models", "--if-missing", stdout=out, stderr=err)
    assert "fail their check: retraining" in err.getvalue()
    version = benefit_model_active()
    assert version is not None and version.sha256 == tampered.sha256
    assert version.version.startswith("s1984-")
    assert (root / "gbsg2_hormonal" / version.version / "model.skops").is_file()
    assert benefit_model_get(version).version == version.version
    text = out.getvalue()
    for words in ("C-index Harrell", "time-dependent AUC 1y", "risk quintile 5", "HR hormonal"):
        assert words in text
