"""The model-quality dashboard: the list of versions, one version's page, and its five chart
endpoints (ROC, calibration, confusion, subgroups, drift), training and live side by side, with
small cells hidden from everyone but administrators and a bounded number of queries."""

import datetime as dt

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from prediction.ml.metrics import reference_distribution
from prediction.ml.training import _curves
from prediction.models import ModelVersion, RiskAssessment
from prediction.selectors import MIN_OUTCOMES
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.django_db

KINDS = ("roc", "calibration", "confusion", "subgroups", "drift")
THRESHOLD = 0.3
LIVE_COUNT_COLUMNS = {"Live n", "Live patients", "Assessments read"}


def training_curves() -> dict:
    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.35).astype(int)
    prob = np.clip(rng.normal(0.25 + 0.35 * y, 0.15, size=(3, 300)), 0.001, 0.999)
    return _curves(prob, y, THRESHOLD)


def manifest(*, curves: bool = True) -> dict:
    rng = np.random.default_rng(7)
    body = {
        "disease": "diabetes",
        "title": "Type 2 diabetes",
        "synthetic": False,
        "metrics": {"auroc": 0.812, "threshold": THRESHOLD},
        "dataset": {"name": "Pima", "rows": 300},
        "features": [{"name": "glucose_2h", "label": "2-hour glucose"}, {"name": "bmi"}],
        "reference": {
            "glucose_2h": reference_distribution(rng.normal(120, 30, 2000)),
            "bmi": reference_distribution(rng.normal(32, 6, 2000)),
        },
        "subgroups": [
            {"group": "sex", "value": "female", "n": 150, "auroc": 0.8, "sensitivity": 0.81},
            {"group": "sex", "value": "male", "n": 150, "auroc": 0.79, "sensitivity": 0.78},
            {"group": "age_band", "value": "<50", "n": 200, "auroc": 0.83, "sensitivity": 0.8},
        ],
        "subgroup_note": "By sex and age band.",
    }
    if curves:
        body["curves"] = training_curves()
    return body


def version_make(*, curves: bool = True, active: bool = True, name: str = "v1") -> ModelVersion:
    return ModelVersion.objects.create(
        disease="diabetes",
        version=name,
        algorithm="logistic_regression",
        artifact_dir=f"diabetes/{name}",
        sha256="0" * 64,
        manifest=manifest(curves=curves),
        is_active=active,
    )


def assess(version, patient, probability, outcome="", *, days_ago=0, glucose=120.0, bmi=31.0):
    made = RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={"glucose_2h": {"value": glucose}, "bmi": {"value": bmi}},
        probability=probability,
        risk_band="high" if probability >= THRESHOLD else "low",
        contributions={},
        outcome=outcome,
        outcome_date=timezone.localdate() if outcome else None,
        created_at=timezone.now() - dt.timedelta(days=days_ago),
    )
    return made


@pytest.fixture
def version(db):
    return version_make()


@pytest.fixture
def outcomes(version, team):
    """60 assessments with outcomes over three months, women and men of two age bands, plus 3
    men over 65 (a small cell)."""
    rng = np.random.default_rng(11)
    women = factories.patient_make(team=team, sex="female", date_of_birth=dt.date(1980, 5, 1))
    men = factories.patient_make(team=team, sex="male", date_of_birth=dt.date(1968, 5, 1))
    old = factories.patient_make(team=team, sex="male", date_of_birth=dt.date(1940, 5, 1))
    for i in range(60):
        p = float(rng.uniform(0.02, 0.95))
        y = rng.random() < p
        assess(
            version,
            women if i % 2 else men,
            p,
            "confirmed" if y else "ruled_out",
            days_ago=int(i % 3) * 31,
            glucose=float(rng.normal(130, 30)),
        )
    for p in (0.2, 0.6, 0.7):
        assess(version, old, p, "confirmed")
    return version


def url(kind: str, version: ModelVersion) -> str:
    return reverse(f"dashboards:data_model_{kind}", args=[version.public_id])


def get_json(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_anonymous_gets_401_and_an_unknown_version_404(client, version, kind):
    assert client.get(url(kind, version)).status_code == 401
    client.force_login(factories.ResearcherFactory())
    missing = reverse(
        f"dashboards:data_model_{kind}", args=["00000000-0000-0000-0000-000000000000"]
    )
    assert client.get(missing).status_code == 404


@pytest.mark.parametrize("maker", [factories.ResearcherFactory, factories.NurseFactory])
def test_every_role_may_open_the_pages(client, version, maker):
    client.force_login(maker())
    listing = client.get(reverse("dashboards:models"))
    assert listing.status_code == 200
    assert "Type 2 diabetes risk model" in listing.content.decode()
    page = client.get(reverse("dashboards:model_quality", args=[version.public_id]))
    assert page.status_code == 200
    html = page.content.decode()
    for kind in KINDS:
        assert url(kind, version) in html
    assert "SIMULATED" in html


def test_pages_need_a_login_and_an_unknown_version_is_404(client, version):
    assert client.get(reverse("dashboards:models")).status_code == 302
    page = reverse("dashboards:model_quality", args=[version.public_id])
    assert client.get(page).status_code == 302
    client.force_login(factories.ClinicianFactory())
    missing = reverse("dashboards:model_quality", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(missing).status_code == 404


def test_the_list_shows_active_versions_first_and_retired_ones_that_assessed(
    client, version, patient, admin_user
):
    retired = version_make(active=False, name="v0")
    version_make(active=False, name="never-used")
    assess(retired, patient, 0.4)
    login_verified(client, admin_user)
    html = client.get(reverse("dashboards:models")).content.decode()
    assert html.index(">v1<") < html.index(">v0<")
    assert "never-used" not in html
    assert "0.812" in html


# --- before outcomes: training alone --------------------------------------------------------


@pytest.mark.parametrize("kind", ("roc", "calibration", "confusion"))
def test_without_outcomes_the_chart_shows_training_alone_and_says_why(
    client, version, admin_user, kind
):
    login_verified(client, admin_user)
    payload = get_json(client, url(kind, version))
    labels = [d["label"] for d in payload["data"]["datasets"]]
    assert any(label.startswith("Training") for label in labels)
    assert not any(label.startswith("Live") for label in labels)
    assert any(f"once {MIN_OUTCOMES} outcomes" in note for note in payload["notes"])
    assert payload["table"]["rows"]
    assert payload["title"] and payload["description"] and payload["computed_at"]


def test_an_old_manifest_without_curves_still_renders(client, admin_user):
    old = version_make(curves=False, name="old")
    login_verified(client, admin_user)
    for kind in ("roc", "calibration", "confusion"):
        payload = get_json(client, url(kind, old))
        assert payload["empty"] is True
        assert "retrain to see them" in payload["empty_text"]
        assert any("retrain to see them" in note for note in payload["notes"])
    page = client.get(reverse("dashboards:model_quality", args=[old.public_id]))
    assert "retrain to see them" in page.content.decode()


# --- with outcomes: side by side ------------------------------------------------------------


def test_roc_has_training_and_live_curves_on_one_chart(client, outcomes, admin_user):
    login_verified(client, admin_user)
    payload = get_json(client, url("roc", outcomes))
    datasets = {d["label"].split(" ")[0]: d for d in payload["data"]["datasets"]}
    assert set(datasets) == {"Training", "Live", "Chance"}
    live = datasets["Live"]["data"]
    assert live[0] == {"x": 0.0, "y": 0.0} and live[-1] == {"x": 1.0, "y": 1.0}
    assert len(datasets["Training"]["data"]) <= 60
    assert payload["options"]["scales"]["x"]["type"] == "linear"
    assert {row[0] for row in payload["table"]["rows"]} == {"Training", "Live"}


def test_confusion_counts_live_at_the_versions_threshold(client, outcomes, admin_user):
    login_verified(client, admin_user)
    payload = get_json(client, url("confusion", outcomes))
    rows = {row[0]: row for row in payload["table"]["rows"]}
    rows_db = RiskAssessment.objects.filter(model_version=outcomes).exclude(outcome="")
    tp = rows_db.filter(probability__gte=THRESHOLD, outcome="confirmed").count()
    tn = rows_db.filter(probability__lt=THRESHOLD, outcome="ruled_out").count()
    assert rows["True positives"][3] == tp
    assert rows["True negatives"][4] == pytest.approx(round(100 * tn / rows_db.count(), 1))
    live = next(d for d in payload["data"]["datasets"] if d["label"].startswith("Live"))
    assert sum(live["data"]) == pytest.approx(1.0)


def test_calibration_and_subgroups_for_an_admin(client, outcomes, admin_user):
    login_verified(client, admin_user)
    calibration = get_json(client, url("calibration", outcomes))
    live_n = sum(row[4] or 0 for row in calibration["table"]["rows"])
    assert live_n == 63
    subgroups = get_json(client, url("subgroups", outcomes))
    rows = {row[0]: row for row in subgroups["table"]["rows"]}
    assert rows["Sex: female"][1] == 150  # training n
    assert rows["Sex: female"][4] == 30  # live n
    assert rows["Age band: 65+"][4] == 3  # an admin sees the small group
    assert {d["label"] for d in subgroups["data"]["datasets"]} >= {
        "Training AUROC",
        "Live AUROC",
    }


def test_a_researcher_never_sees_a_cell_under_five(client, outcomes):
    client.force_login(factories.ResearcherFactory())
    subgroups = get_json(client, url("subgroups", outcomes))
    rows = {row[0]: row for row in subgroups["table"]["rows"]}
    assert rows["Age band: 65+"][4] is None
    assert any("fewer than 5 patients" in note for note in subgroups["notes"])
    for kind in KINDS:
        payload = get_json(client, url(kind, outcomes))
        # Live counts (training figures come from public datasets, not from patients here).
        columns = payload["table"]["columns"]
        counted = [i for i, c in enumerate(columns) if c in LIVE_COUNT_COLUMNS]
        assert counted or kind == "roc"
        for row in payload["table"]["rows"]:
            for i in counted:
                assert row[i] is None or row[i] == 0 or row[i] >= 5, (kind, row)
        text = str(payload)
        for patient_id in RiskAssessment.objects.values_list("patient__public_id", flat=True):
            assert str(patient_id) not in text


def test_small_cells_take_the_next_smallest_with_them():
    from dashboards.privacy import suppress_small

    assert suppress_small([3, 40, 12, 50]) == ([None, 40, None, 50], True)
    assert suppress_small([3, 4, 12, 50]) == ([None, None, 12, 50], True)
    assert suppress_small([0, 40, 12]) == ([0, 40, 12], False)


def test_drift_per_month_with_guide_lines(client, outcomes, admin_user):
    login_verified(client, admin_user)
    payload = get_json(client, url("drift", outcomes))
    assert len(payload["data"]["labels"]) == 3
    assert payload["data"]["labels"] == sorted(payload["data"]["labels"])
    labels = [d["label"] for d in payload["data"]["datasets"]]
    assert "2-hour glucose" in labels and "bmi" in labels
    assert "Some shift (PSI 0.1)" in labels and "Large shift (PSI 0.25)" in labels
    glucose = next(d for d in payload["data"]["datasets"] if d["label"] == "2-hour glucose")
    assert all(v is not None and v >= 0 for v in glucose["data"])
    assert payload["table"]["columns"][:2] == ["Month", "Assessments read"]


def test_drift_is_empty_before_any_assessment(client, version, admin_user):
    login_verified(client, admin_user)
    payload = get_json(client, url("drift", version))
    assert payload["empty"] is True and "no assessment" in payload["empty_text"]


def test_simulated_outcomes_of_synthetic_patients_are_said(client, version, team, admin_user):
    from patients.models import Patient

    patient = factories.patient_make(team=team)
    Patient.objects.filter(pk=patient.pk).update(is_synthetic=True)
    for i in range(MIN_OUTCOMES):
        assess(version, patient, 0.1 + 0.08 * i, "confirmed" if i % 2 else "ruled_out")
    login_verified(client, admin_user)
    payload = get_json(client, url("roc", version))
    assert any(
        f"{MIN_OUTCOMES} of the recorded outcomes are SIMULATED" in n for n in payload["notes"]
    )


def test_a_synthetic_model_is_flagged(client, admin_user):
    synthetic = version_make(name="syn")
    ModelVersion.objects.filter(pk=synthetic.pk).update(is_synthetic=True)
    login_verified(client, admin_user)
    payload = get_json(client, url("roc", synthetic))
    assert any(note.startswith("Synthetic model") for note in payload["notes"])
    page = client.get(reverse("dashboards:model_quality", args=[synthetic.public_id]))
    assert "not for clinical use" in page.content.decode()


@pytest.mark.parametrize("kind", KINDS)
def test_each_endpoint_takes_at_most_ten_queries(
    client, outcomes, admin_user, kind, django_assert_max_num_queries, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 0
    login_verified(client, admin_user)
    client.get(url(kind, outcomes))  # the session and user rows are warm after this
    with django_assert_max_num_queries(10):
        assert client.get(url(kind, outcomes)).status_code == 200


def test_the_pages_take_a_bounded_number_of_queries(
    client, outcomes, admin_user, django_assert_max_num_queries
):
    version_make(active=False, name="v0")
    login_verified(client, admin_user)
    with django_assert_max_num_queries(10):
        client.get(reverse("dashboards:models"))
    with django_assert_max_num_queries(10):
        client.get(reverse("dashboards:model_quality", args=[outcomes.public_id]))
