"""seed_demo: synthetic-looking patients with values from the real datasets, within the catalog's
ranges, deterministic per seed, idempotent; one working login per role."""

import datetime as dt
import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from accounts.models import AuditEvent, Role, User
from patients.catalog import OBSERVATION_TYPES
from patients.demo import (
    BREAST,
    CARDIOLOGY,
    DEMO_TEAM_MEMBERS,
    ENDOCRINOLOGY,
    FEMALE_GIVEN,
    MALE_GIVEN,
    patient_plan,
    source_data,
)
from patients.models import (
    CareTeam,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
)
from patients.selectors import patients_visible_to

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
GLUCOSE, SYSTOLIC, DIASTOLIC, CHOLESTEROL, BMI = "2345-7", "8480-6", "8462-4", "2093-3", "39156-5"


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--force", *args, stdout=out)
    return out.getvalue()


def _login(email: str, password: str) -> User | None:
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request, username=email, password=password)


def _counts() -> dict[str, int]:
    models = [User, CareTeam, Patient, Observation, Condition, Medication, LifestyleAssessment]
    counts = {model.__name__: model._default_manager.count() for model in models}
    counts["AuditEvent"] = AuditEvent.objects.count()
    return counts


@pytest.fixture(scope="module")
def plans():
    return [patient_plan(i, seed=11, now=NOW) for i in range(200)]


# --- the command ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_creates_a_synthetic_world_and_a_second_run_creates_nothing():
    out = _seed("--patients", "20", "--password", "demo-password-for-tests-42")
    assert "20 created, 0 already present" in out
    counts = _counts()
    assert counts["Patient"] == 20 and counts["CareTeam"] == 3
    assert counts["Observation"] > 20 * 8  # several readings each

    again = _seed("--patients", "20", "--password", "another-password-for-tests-42")
    assert "0 created, 20 already present" in again
    assert "unchanged" in again and "another-password" not in again
    assert _counts() == counts
    # The first password still works: an existing user's password changes only on request.
    assert _login("clinician@demo.healthmentor.test", "demo-password-for-tests-42")

    more = _seed("--patients", "25")
    assert "5 created, 20 already present" in more


@pytest.mark.django_db
def test_demo_patients_look_synthetic_and_their_values_are_in_the_catalogs_ranges():
    _seed("--patients", "20")
    patients = list(Patient.objects.all())
    assert len(patients) == 20
    for patient in patients:
        assert patient.is_synthetic
        assert re.fullmatch(r"DEMO-\d{6}", patient.mrn)
        assert patient.given_name in FEMALE_GIVEN + MALE_GIVEN
        assert re.fullmatch(r"Demo-[A-Z][a-z]+", patient.family_name)
        assert patient.email.endswith("@example.org")
        assert patient.phone.startswith("+44 7700 900")  # Ofcom's range for drama
        assert patient.address.endswith("Demotown")
        assert 18 <= patient.age <= 90
    for obs in Observation.objects.all():
        kind = OBSERVATION_TYPES[obs.code]
        assert obs.unit == kind.unit
        assert kind.low <= obs.value <= kind.high, obs
        assert obs.source == "demo" and obs.recorded_by is None
        assert obs.effective_at >= obs.recorded_at - dt.timedelta(days=735)
    assert not Condition.objects.exclude(source="demo").exists()
    assert set(Patient.objects.values_list("care_teams__name", flat=True)) == {
        CARDIOLOGY,
        ENDOCRINOLOGY,
        BREAST,
    }


@pytest.mark.django_db
def test_every_role_gets_a_working_login_and_passwords_reset_only_on_request():
    out = _seed("--patients", "0")
    logins = dict(re.findall(r"(\S+@demo\.healthmentor\.test)\s+created\s+(\S+)", out))
    assert len(logins) == len(Role)
    for role in Role:
        email = f"{role.value}@demo.healthmentor.test"
        user = _login(email, logins[email])
        assert user is not None and user.role == role
        assert user.approved_at is not None and user.is_active
        assert user.groups.filter(name=f"role:{role.value}").exists()
        assert (user.is_staff, user.is_superuser) == ((role == Role.ADMIN),) * 2
    for role, teams in DEMO_TEAM_MEMBERS.items():
        user = User.objects.get(email=f"{role.value}@demo.healthmentor.test")
        assert set(CareTeam.objects.filter(group__user=user).values_list("name", flat=True)) == (
            set(teams)
        )

    reset = _seed("--patients", "0", "--reset-passwords", "--password", "a-reset-password-77")
    assert reset.count("a-reset-password-77") == len(Role)
    assert _login("nurse@demo.healthmentor.test", "a-reset-password-77")
    assert not _login("nurse@demo.healthmentor.test", logins["nurse@demo.healthmentor.test"])


@pytest.mark.django_db
def test_demo_users_see_their_teams_patients_and_the_researcher_sees_none():
    _seed("--patients", "12")
    clinician = User.objects.get(email="clinician@demo.healthmentor.test")
    nurse = User.objects.get(email="nurse@demo.healthmentor.test")
    researcher = User.objects.get(email="researcher@demo.healthmentor.test")
    assert patients_visible_to(user=clinician).count() == 12
    nurse_teams = DEMO_TEAM_MEMBERS[Role.NURSE]  # not the breast clinic
    assert set(patients_visible_to(user=nurse)) == set(
        Patient.objects.filter(care_teams__name__in=nurse_teams)
    )
    assert BREAST not in nurse_teams
    assert patients_visible_to(user=researcher).count() == 0


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_outside_debug_without_force_and_weak_passwords():
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_demo", "--patients", "1", stdout=StringIO())
    with pytest.raises(CommandError, match=r"too short|too common"):
        _seed("--patients", "1", "--password", "secret")
    assert not User.objects.exists() and not Patient.objects.exists()


# --- the plans --------------------------------------------------------------------------------


def test_plans_are_deterministic_per_seed_and_independent_of_the_count(plans):
    assert patient_plan(7, seed=11, now=NOW) == plans[7]
    assert patient_plan(7, seed=12, now=NOW) != plans[7]
    assert len({plan.mrn for plan in plans}) == 200


def _latest(plan, code):
    readings = [obs for obs in plan.observations if obs.code == code]
    return max(readings, key=lambda obs: obs.effective_at).value


def test_the_newest_readings_are_rows_of_the_real_datasets(plans):
    data = source_data()
    pima = set(zip(data.pima["glu"], data.pima["bp"], data.pima["bmi"], strict=True))
    hearts = set(zip(data.hearts["trestbps"], data.hearts["chol"], strict=True))
    for plan in plans:
        assert (_latest(plan, GLUCOSE), _latest(plan, DIASTOLIC), _latest(plan, BMI)) in pima
        assert (_latest(plan, SYSTOLIC), _latest(plan, CHOLESTEROL)) in hearts


def test_plans_have_history_over_two_years_within_the_catalog_ranges(plans):
    for plan in plans:
        times = {obs.effective_at for obs in plan.observations}
        assert 3 <= len(times) <= 6
        assert all(NOW - dt.timedelta(days=731) <= at <= NOW for at in times)
        for obs in plan.observations:
            kind = OBSERVATION_TYPES[obs.code]
            assert obs.unit == kind.unit and kind.low <= obs.value <= kind.high
        systolic = [o for o in plan.observations if o.code == SYSTOLIC]
        diastolic = {o.effective_at: o.value for o in plan.observations if o.code == DIASTOLIC}
        assert all(o.value > diastolic[o.effective_at] for o in systolic)


def test_conditions_and_medications_follow_the_values(plans):
    data = source_data()
    diabetic_rows = {
        (glu, bp, bmi)
        for glu, bp, bmi, yes in zip(
            data.pima["glu"], data.pima["bp"], data.pima["bmi"], data.pima["diabetic"], strict=True
        )
        if yes
    }
    for plan in plans:
        codes = {c["code"] for c in plan.conditions}
        drugs = {m["name"] for m in plan.medications if m["status"] == "active"}
        pima_row = (_latest(plan, GLUCOSE), _latest(plan, DIASTOLIC), _latest(plan, BMI))
        # Pima's label is the diabetes diagnosis; a row's values can also match a labelled row.
        if _latest(plan, GLUCOSE) >= 200 or "E11" in codes:
            assert "Metformin" in drugs
        if "E11" not in codes:
            assert pima_row not in diabetic_rows
        hypertensive = _latest(plan, SYSTOLIC) >= 140 or _latest(plan, DIASTOLIC) >= 90
        assert ("I10" in codes) == hypertensive
        assert ({"Ramipril", "Lisinopril"} & drugs != set()) == hypertensive
        assert ("E78.5" in codes) == (_latest(plan, CHOLESTEROL) >= 240)
        assert ("Atorvastatin" in drugs) == (_latest(plan, CHOLESTEROL) >= 240)
        for med in plan.medications:
            assert med["end_date"] is None or med["end_date"] >= med["start_date"]
        for life in plan.lifestyle:
            assert (life["smoking"] == "never") == (life["pack_years"] is None)
        if plan.profile == "breast":
            assert plan.teams[0] == BREAST and plan.sex == "female"


def test_the_population_looks_like_the_datasets_and_adults(plans):
    profiles = [plan.profile for plan in plans]
    assert profiles.count("breast") == 16
    smoking = [plan.lifestyle[0]["smoking"] for plan in plans]
    assert 0.4 < smoking.count("never") / len(smoking) < 0.75
    assert 0.05 < smoking.count("current") / len(smoking) < 0.3
    genes = [m["gene"] for plan in plans for m in plan.genetic_markers]
    assert {"BRCA1", "BRCA2"} & set(genes)
    brca = [
        plan for plan in plans if any(m["gene"].startswith("BRCA") for m in plan.genetic_markers)
    ]
    assert all(plan.profile == "breast" for plan in brca)
    assert sum(bool(plan.allergies) for plan in plans) > 10
    assert sum(bool(plan.family_history) for plan in plans) > 50


@pytest.mark.django_db
def test_seeded_entries_pass_the_services(db):
    # The written record matches its plan, so nothing was dropped on the way.
    _seed("--patients", "12", "--seed", "11")
    for index in (0, 5, 11):
        plan = patient_plan(index, seed=11, now=NOW)
        patient = next(p for p in Patient.objects.all() if p.mrn == plan.mrn)
        assert patient.conditions.count() == len(plan.conditions)
        assert patient.medications.count() == len(plan.medications)
        assert patient.familyhistorys.count() == len(plan.family_history)
        assert GeneticMarker.objects.filter(patient=patient).count() == len(plan.genetic_markers)
        assert FamilyHistory.objects.filter(patient=patient, source="demo").count() == len(
            plan.family_history
        )
