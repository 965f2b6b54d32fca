"""The population dashboard: risk per disease from each patient's latest assessment, by
probability bin, age band and sex. Clinicians see their care teams' patients only; researchers
see every patient as counts, with no cell under 5 (and no cell that a total would give away)."""

import pytest
from django.urls import reverse

from dashboards.privacy import suppress_small_cells
from prediction.models import ModelVersion, RiskAssessment
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.django_db


def version_make(
    disease: str = "diabetes", *, version: str = "v1", active: bool = True, synthetic: bool = True
) -> ModelVersion:
    return ModelVersion.objects.create(
        disease=disease,
        version=version,
        algorithm="logistic_regression",
        artifact_dir=f"{disease}/{version}",
        sha256="0" * 64,
        manifest={"bands": {"moderate": 0.1, "high": 0.2}},
        is_active=active,
        is_synthetic=synthetic,
    )


def assess(version: ModelVersion, patient, probability: float, band: str, **extra):
    return RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={},
        probability=probability,
        risk_band=band,
        contributions={},
        **extra,
    )


def sign_in(client, user) -> None:
    """Administrators need a session verified by their second factor."""
    if user.is_portal_admin:
        login_verified(client, user)
    else:
        client.force_login(user)


def url(disease: str = "diabetes", by: str = "histogram") -> str:
    return reverse("dashboards:data_population", args=[disease, by])


def cells(payload: dict) -> dict[str, list]:
    return {d["label"]: d["data"] for d in payload["data"]["datasets"]}


def table_row(payload: dict, label: str) -> list:
    return next(row for row in payload["table"]["rows"] if row[0] == label)


@pytest.fixture
def diabetes():
    return version_make()


@pytest.fixture
def two_teams(diabetes, team, clinician):
    """Three patients on the clinician's team, two on another team."""
    ours = [factories.patient_make(team=team) for _ in range(3)]
    other_team = factories.care_team_make()
    theirs = [factories.patient_make(team=other_team) for _ in range(2)]
    assess(diabetes, ours[0], 0.05, "low", subject_age=45, subject_sex="female")
    assess(diabetes, ours[1], 0.15, "moderate", subject_age=55, subject_sex="male")
    assess(diabetes, ours[2], 0.85, "high", subject_age=90, subject_sex="female")
    for p in theirs:
        assess(diabetes, p, 0.75, "high", subject_age=70, subject_sex="male")
    return {"ours": ours, "theirs": theirs}


# --- access ---------------------------------------------------------------------------------


def test_anonymous_gets_401_and_the_page_asks_to_sign_in(client, diabetes):
    assert client.get(url()).status_code == 401
    page = client.get(reverse("dashboards:population"))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


def test_clinician_sees_only_their_care_teams_patients(client, clinician, admin_user, two_teams):
    sign_in(client, clinician)
    mine = client.get(url()).json()
    assert table_row(mine, "All")[1:5] == [1, 1, 1, 3]
    assert cells(mine)["High"][8] == 1 and sum(cells(mine)["High"]) == 1
    by_sex = client.get(url(by="sex")).json()
    assert table_row(by_sex, "Male")[1:5] == [0, 1, 0, 1]

    sign_in(client, admin_user)
    everyone = client.get(url()).json()
    assert table_row(everyone, "All")[1:6] == [1, 1, 3, 5, 60.0]
    assert cells(everyone)["High"][7] == 2


def test_other_care_team_clinician_sees_none_of_them(client, other_clinician, two_teams):
    sign_in(client, other_clinician)
    payload = client.get(url()).json()
    assert payload["empty"] is True
    assert "No patient in view" in payload["empty_text"]


def test_unknown_disease_grouping_or_inactive_model_is_404(client, clinician, diabetes):
    version_make("stroke", active=False)
    sign_in(client, clinician)
    assert client.get(url(by="postcode")).status_code == 404
    assert client.get(url(disease="gout")).status_code == 404
    assert client.get(url(disease="stroke")).status_code == 404


# --- what is counted ------------------------------------------------------------------------


def test_only_the_latest_assessment_counts_and_one_falls_in_the_last_bin(
    client, admin_user, diabetes, team
):
    patient = factories.patient_make(team=team)
    assess(diabetes, patient, 0.05, "low")
    assess(diabetes, patient, 1.0, "high")
    sign_in(client, admin_user)
    payload = client.get(url()).json()
    assert payload["data"]["labels"][0] == "0-10 %" and payload["data"]["labels"][9] == "90-100 %"
    assert cells(payload)["Low"] == [0] * 10
    assert cells(payload)["High"] == [0] * 9 + [1]


def test_age_bands_and_sex_come_from_the_assessment_snapshots(client, admin_user, diabetes, team):
    for age, sex in ((25, "female"), (34, "male"), (90, "other"), (None, "")):
        patient = factories.patient_make(team=team)
        made = assess(diabetes, patient, 0.5, "high", subject_age=age, subject_sex=sex)
        if age is None:  # a record without a date of birth or sex
            RiskAssessment.objects.filter(pk=made.pk).update(subject_age=None, subject_sex="")
    sign_in(client, admin_user)
    by_age = client.get(url(by="age")).json()
    assert by_age["data"]["labels"] == [
        "<30",
        "30-39",
        "40-49",
        "50-59",
        "60-69",
        "70-79",
        "80-89",
        "90+",
        "Not recorded",
    ]
    assert cells(by_age)["High"] == [1, 1, 0, 0, 0, 0, 0, 1, 1]
    by_sex = client.get(url(by="sex")).json()
    assert by_sex["data"]["labels"] == ["Female", "Male", "Other", "Not recorded"]
    assert cells(by_sex)["High"] == [1, 1, 1, 1]
    assert by_sex["options"]["scales"]["x"]["stacked"] is True


def test_the_chart_says_what_it_shows_with_bands_coloured_and_caveats_noted(
    client, admin_user, two_teams, team
):
    factories.patient_make(team=team)  # no assessment
    sign_in(client, admin_user)
    payload = client.get(url()).json()
    title = "Diabetes (women of Pima heritage)"
    assert payload["type"] == "bar" and payload["title"] == f"{title}: distribution of risk"
    assert f"latest {title} risk assessment of every patient, counted" in payload["description"]
    colours = {d["label"]: d["backgroundColor"] for d in payload["data"]["datasets"]}
    assert colours == {"Low": "#0072B2", "Moderate": "#E69F00", "High": "#D55E00"}
    notes = " ".join(payload["notes"])
    assert "1 of the 6 patients in view have no assessment" in notes
    assert "v1 (logistic_regression, active): 5 assessments" in notes
    assert "synthetic data" in notes
    assert payload["computed_at"]
    assert payload["table"]["columns"] == [
        "Probability bin",
        "Low",
        "Moderate",
        "High",
        "Total",
        "% high",
    ]


# --- researchers ------------------------------------------------------------------------------


@pytest.fixture
def cohort(diabetes, team):
    """In their forties, 8 at low and 3 at high risk; in their fifties 12 at low risk."""
    people = []
    groups = ((45, "low", 0.05, 8), (45, "high", 0.9, 3), (55, "low", 0.06, 12))
    for age, band, probability, n in groups:
        for _ in range(n):
            patient = factories.patient_make(team=team, given_name="Zebediah")
            assess(diabetes, patient, probability, band, subject_age=age, subject_sex="female")
            people.append(patient)
    return people


def test_researcher_gets_no_cell_under_five_nor_one_a_total_gives_away(
    client, cohort, django_assert_max_num_queries
):
    sign_in(client, factories.ResearcherFactory())
    with django_assert_max_num_queries(10):
        payload = client.get(url(by="age")).json()
    forties = table_row(payload, "40-49")
    # 3 at high risk is too few; 8 at low risk would give it away from the total of 11.
    assert forties[1:5] == [None, 0, None, 11]
    assert forties[5] is None
    assert table_row(payload, "50-59")[1:5] == [12, 0, 0, 12]
    # The low column: 8 hidden would follow from 20 - 12, so the all-ages figure goes too.
    assert table_row(payload, "All")[1] is None and table_row(payload, "All")[4] == 23
    assert cells(payload)["High"][2] is None
    # The bar keeps the height of its total (which the table shows), in a "not shown" part.
    assert cells(payload)["Band not shown (fewer than 5)"][2:4] == [11, 0]
    assert any("Fewer than 5 patients: not shown" in n for n in payload["notes"])


def test_researcher_receives_no_identifier(client, cohort):
    sign_in(client, factories.ResearcherFactory())
    bodies = [client.get(url(by=by)).content.decode() for by in ("histogram", "age", "sex")]
    bodies.append(client.get(reverse("dashboards:population")).content.decode())
    for body in bodies:
        for patient in cohort:
            assert str(patient.public_id) not in body
            assert patient.mrn not in body
            assert "Zebediah" not in body and patient.family_name not in body
            assert patient.date_of_birth.isoformat() not in body


def test_admin_sees_the_same_cohort_unsuppressed(client, admin_user, cohort):
    sign_in(client, admin_user)
    payload = client.get(url(by="age")).json()
    assert table_row(payload, "40-49")[1:6] == [8, 0, 3, 11, 27.3]
    assert not any("not shown" in n for n in payload["notes"])


@pytest.mark.parametrize(
    ("values", "hidden"),
    [
        # nothing small: nothing hidden
        ({"a": 5, "b": 7, "t": 12}, set()),
        # one small part: it and the next smallest go
        ({"a": 3, "b": 7, "c": 9, "t": 19}, {"a", "b"}),
        # two small parts already hide each other; zeros stay
        ({"a": 2, "b": 4, "c": 0, "t": 6}, {"a", "b"}),
        # a small total goes with its parts
        ({"a": 1, "b": 2, "t": 3}, {"a", "b", "t"}),
        # only one non-zero part left: the total goes too
        ({"a": 3, "b": 0, "t": 3}, {"a", "t"}),
    ],
)
def test_suppress_small_cells(values, hidden):
    shown = suppress_small_cells(values, [([k for k in values if k != "t"], "t", False)])
    assert {k for k, v in shown.items() if v is None} == hidden
    assert all(shown[k] == values[k] for k in values if k not in hidden)


# --- cost -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["histogram", "age", "sex"])
def test_each_endpoint_takes_at_most_ten_queries(
    client, clinician, admin_user, two_teams, by, django_assert_max_num_queries, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 0
    for user in (clinician, admin_user, factories.ResearcherFactory()):
        sign_in(client, user)
        with django_assert_max_num_queries(10):
            assert client.get(url(by=by)).status_code == 200


# --- the page -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        factories.ClinicianFactory,
        factories.NurseFactory,
        factories.RadiologistFactory,
        factories.ResearcherFactory,
        factories.AdminFactory,
    ],
)
def test_every_role_opens_the_page_with_its_disease_picker(client, make, diabetes):
    version_make("stroke", version="s1")
    sign_in(client, make())
    page = client.get(reverse("dashboards:population"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'href="?disease=stroke"' in body
    for by in ("histogram", "age", "sex"):
        assert f'data-chart-url="{url("diabetes", by)}"' in body
    assert 'href="/dashboards/population/"' in body  # its tab
    stroke = client.get(reverse("dashboards:population") + "?disease=stroke").content.decode()
    assert f'data-chart-url="{url("stroke", "age")}"' in stroke


def test_the_page_refuses_an_unknown_disease_and_says_when_no_model_is_active(client, clinician):
    sign_in(client, clinician)
    assert client.get(reverse("dashboards:population")).status_code == 200
    assert "No risk model is active yet" in client.get(reverse("dashboards:population")).text
    version_make()
    assert client.get(reverse("dashboards:population") + "?disease=gout").status_code == 404
