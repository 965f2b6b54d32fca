"""The clinician home and a patient's dashboard in chromium: every chart draws, each has its table
and its computed line, no script or CSP error, and another team's patient never shows. Screenshots
land in test-artifacts/screenshots/ (dashboards-home, dashboards-home-patient)."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from imaging.models import Study
from tests import factories
from tests.dashboards.browser import assert_charts_drawn, sign_in
from tests.dashboards.test_home import assess, recommendation, risk_version, study

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAIL = "dr.home@hospital.test"
VITALS = {"8480-6": ("mm[Hg]", 118, 12), "8867-4": ("/min", 74, 9), "59408-5": ("%", 96.5, 1.5)}
LABS = {"4548-4": ("%", 7.2, 0.8), "2093-3": ("mg/dL", 205, 20), "2085-9": ("mg/dL", 45, 6)}


def observe(patient: Any, by: Any, code: str, unit: str, value: float, days_ago: float) -> None:
    factories.record_entry_make(
        "observations",
        patient=patient,
        by=by,
        code=code,
        value=round(value, 1),
        unit=unit,
        effective_at=(timezone.now() - dt.timedelta(days=days_ago)).isoformat(),
    )


@pytest.fixture
def world(transactional_db) -> dict[str, Any]:
    """Built before the page fixture, so no query runs while chromium holds the server."""
    clinician: Any = factories.ClinicianFactory(email=EMAIL, full_name="Dr Home")
    team = factories.care_team_make(name="Cardiometabolic clinic", members=[clinician])
    other = factories.care_team_make(name="Another clinic")
    versions = [
        risk_version("diabetes", high=0.3),
        risk_version("heart_disease", high=0.4),
        risk_version("ischemic_stroke", high=0.25),
    ]
    names = [("Ada", "Okoro"), ("Bram", "Visser"), ("Chen", "Li"), ("Dora", "Haddad"),
             ("Emil", "Novak"), ("Fatma", "Yilmaz"), ("Gus", "Moreau"), ("Hana", "Sato"),
             ("Ivo", "Petrov"), ("Jude", "Mensah"), ("Kai", "Berg"), ("Lena", "Rossi")]  # fmt: skip
    patients = []
    for n, (given, family) in enumerate(names):
        patient = factories.patient_make(team=team, given_name=given, family_name=family)
        patients.append(patient)
        for k, version in enumerate(versions):
            if (n + k) % 4 == 3:
                continue  # not everyone is assessed for every disease
            probability = ((n * 37 + k * 53) % 100) / 100
            assess(version, patient, max(0.01, probability * 0.6), days_ago=120 - 7 * k)
            assess(version, patient, max(0.01, probability), days_ago=10 - k)
        if n < 6:
            recommendation(patient, f"Review treatment {n + 1}", urgency=1 + n % 3)
    stranger = factories.patient_make(team=other, given_name="Stan", family_name="Stranger")
    assess(versions[0], stranger, 0.99)
    for day in range(14):
        for k in range(day % 3 + 1):
            patient = patients[(day + k) % len(patients)]
            state = Study.State.FAILED if (day + k) % 7 == 0 else Study.State.DONE
            study(patient, clinician, state, hours_ago=24 * day + 3 + k, abnormal=(k + 1) / 5)
    study(patients[0], clinician, Study.State.QUEUED, hours_ago=0.2)
    study(patients[1], clinician, Study.State.RUNNING, hours_ago=0.1, modality="CR")
    # One patient with a full record: vitals and labs over six months, a few out of range.
    focus = patients[0]
    for code, (unit, centre, spread) in {**VITALS, **LABS}.items():
        for i in range(8):
            wobble = ((i * 7 + len(code)) % 5 - 2) / 2
            observe(focus, clinician, code, unit, centre + wobble * spread, days_ago=180 - 22 * i)
    study(focus, clinician, Study.State.DONE, hours_ago=24 * 60, abnormal=0.15, modality="CR")
    return {"clinician": clinician, "focus": focus, "stranger": stranger}


def test_the_clinician_home_and_a_patient_dashboard_draw_every_chart(world, page, screenshot):
    sign_in(page, EMAIL, "/dashboards/home/")
    page.wait_for_selector("#chart-risk-bands")
    inked = assert_charts_drawn(page)
    assert set(inked) == {"chart-risk-bands", "chart-studies"}
    text = page.inner_text("main")
    assert "My patients at high risk" in text and "Stranger" not in text
    assert "Recommendations awaiting my decision" in text
    assert page.locator("#home-tiles .tile").count() == 5
    screenshot("dashboards-home")

    focus = world["focus"]
    page.click(f"#high-risk a[href='/dashboards/patients/{focus.public_id}/'] >> nth=0")
    page.wait_for_url(f"**/dashboards/patients/{focus.public_id}/")
    inked = assert_charts_drawn(page)
    expected = {"chart-risk", "chart-imaging"} | {f"obs-{code}" for code in {**VITALS, **LABS}}
    assert set(inked) == expected
    ids = page.eval_on_selector_all("figure[data-chart-url]", "(f) => f.map(x => x.id)")
    assert ids.index("obs-8480-6") < ids.index("obs-4548-4")  # vitals before labs
    flagged = page.locator("#obs-2093-3 .chart-notes").inner_text()
    assert "outside the reference range" in flagged
    assert page.locator("#imaging-studies li").count() >= 2
    screenshot("dashboards-home-patient")
