"""The recommendation acceptance dashboard: accepted and declined per rule over a period, with
the commonest decline reasons; clinicians, researchers (no count under 5) and administrators."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from recommendations.models import Feedback, Recommendation
from tests import factories
from tests.dashboards.test_population import sign_in

pytestmark = pytest.mark.django_db

STATIN = ("statin-diabetes", "Diabetes aged 40-75 without a statin")
SMOKING = ("tobacco-cessation", "Tobacco smoking cessation")
URL = "/dashboards/data/recommendations/acceptance/"


def decide(patient, rule: tuple[str, str], status: str, *, reason: str = "", days_ago: int = 1):
    return Recommendation.objects.create(
        patient=patient,
        rule_id=rule[0],
        title=rule[1],
        action="Do it",
        category="prevention",
        urgency=1,
        strength="A",
        evidence="guideline",
        source={},
        reasons=[],
        fingerprint="x",
        is_current=False,
        status=status,
        decided_at=timezone.now() - dt.timedelta(days=days_ago),
        decline_reason=reason,
    )


def row(payload: dict, title: str) -> list:
    return next(r for r in payload["table"]["rows"] if r[0] == title)


@pytest.fixture
def decisions(patient):
    """Statin: 6 accepted, 3 declined (2 already done, 1 patient declined) in the past month,
    1 accepted 200 days ago; smoking: 1 accepted, 1 declined by CDS Hooks feedback."""
    for _ in range(6):
        decide(patient, STATIN, "accepted")
    decide(patient, STATIN, "declined", reason="already_done")
    decide(patient, STATIN, "declined", reason="already_done")
    decide(patient, STATIN, "declined", reason="patient_declined")
    decide(patient, STATIN, "accepted", days_ago=200)
    decide(patient, SMOKING, "accepted")
    decide(patient, STATIN, "pending")
    Feedback.objects.create(rule_id=SMOKING[0], outcome="declined", reason_code="deferred")


def test_accepted_and_declined_per_rule_with_the_top_reasons(client, clinician, decisions):
    sign_in(client, clinician)
    payload = client.get(URL).json()
    assert payload["type"] == "bar" and payload["options"]["indexAxis"] == "y"
    assert payload["data"]["labels"][:2] == [STATIN[1], SMOKING[1]]
    data = {d["label"]: d["data"] for d in payload["data"]["datasets"]}
    assert data == {"Accepted": [6, 1], "Declined": [3, 1]}
    assert row(payload, STATIN[1]) == [
        STATIN[1],
        9,
        6,
        3,
        66.7,
        "Already done or in place (2); Patient declined (1)",
    ]
    assert row(payload, SMOKING[1])[1:5] == [2, 1, 1, 50.0]
    assert "Deferred to another visit" in row(payload, SMOKING[1])[5]
    assert row(payload, "All rules")[1:5] == [11, 7, 4, 63.6]
    assert "past 90 days" in payload["description"]
    assert any("rules had no decision" in n for n in payload["notes"])


def test_the_period_is_chosen_with_days(client, clinician, decisions):
    sign_in(client, clinician)
    assert row(client.get(URL + "?days=30").json(), STATIN[1])[1] == 9
    assert row(client.get(URL + "?days=365").json(), STATIN[1])[1] == 10
    assert row(client.get(URL + "?days=all").json(), STATIN[1])[1] == 10
    bad = client.get(URL + "?days=7")
    assert bad.status_code == 400 and "days must be" in bad.json()["detail"]


def test_nothing_decided_says_so(client, clinician):
    sign_in(client, clinician)
    payload = client.get(URL).json()
    assert payload["empty"] is True
    assert "No recommendation was accepted or declined" in payload["empty_text"]


def test_roles(client, decisions):
    assert client.get(URL).status_code == 401
    for make in (factories.NurseFactory, factories.RadiologistFactory):
        sign_in(client, make())
        assert client.get(URL).status_code == 403
        assert client.get(reverse("dashboards:acceptance")).status_code == 403
    for make in (factories.ClinicianFactory, factories.ResearcherFactory, factories.AdminFactory):
        sign_in(client, make())
        assert client.get(URL).status_code == 200


def test_researchers_get_no_count_under_five(client, decisions, patient):
    sign_in(client, factories.ResearcherFactory())
    payload = client.get(URL).json()
    statin = row(payload, STATIN[1])
    # 3 declined is too few, and 6 accepted would give it away from the 9 decided.
    assert statin[1:5] == [9, None, None, None]
    assert "fewer than 5" in statin[5] and "(2)" not in statin[5]
    assert row(payload, SMOKING[1])[1:5] == [None, None, None, None]
    data = {d["label"]: d["data"] for d in payload["data"]["datasets"]}
    assert data["Accepted"][0] is None and data["Declined"][0] is None
    assert any("Fewer than 5" in n for n in payload["notes"])
    assert str(patient.public_id) not in client.get(URL).content.decode()


def test_the_endpoint_takes_at_most_ten_queries(
    client, clinician, decisions, django_assert_max_num_queries, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 0
    for user in (clinician, factories.ResearcherFactory(), factories.AdminFactory()):
        sign_in(client, user)
        with django_assert_max_num_queries(10):
            assert client.get(URL + "?days=all").status_code == 200


def test_the_page_has_the_period_picker_and_the_chart(client, clinician):
    sign_in(client, clinician)
    page = client.get(reverse("dashboards:acceptance") + "?days=365")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-chart-url="{URL}?days=365"' in body
    for days in ("30", "90", "365", "all"):
        assert f'href="?days={days}"' in body
    assert 'aria-current="page">365 days' in body
    assert client.get(reverse("dashboards:acceptance") + "?days=7").status_code == 200


def test_the_page_asks_anonymous_users_to_sign_in(client):
    page = client.get(reverse("dashboards:acceptance"))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
