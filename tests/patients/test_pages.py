"""The patient pages: my patients (with blind-index search), the record, and the forms that add to
it. Every page has an allowed and a denied case; bad input never writes and never fails with 500."""

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, AuditOutcome
from patients import services
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
)
from tests import factories
from tests.accounts.helpers import login_verified

ENTRY_URLS = {
    "observation": "patients:observation_add",
    "condition": "patients:condition_add",
    "medication": "patients:medication_add",
    "allergy": "patients:allergy_add",
    "lifestyle": "patients:lifestyle_add",
    "family_history": "patients:family_history_add",
    "genetic_marker": "patients:genetic_marker_add",
}
ENTRY_MODELS = [
    Observation,
    Condition,
    Medication,
    Allergy,
    LifestyleAssessment,
    FamilyHistory,
    GeneticMarker,
]
# A valid submission of each entry form.
VALID_ENTRIES = {
    "observation": {
        "code": "8480-6",
        "value": "128",
        "unit": "mm[Hg]",
        "effective_at": "2024-03-01T09:30",
    },
    "condition": {"code": "I10", "display": "Hypertension", "status": "active"},
    "medication": {
        "name": "Ramipril",
        "dose": "5",
        "dose_unit": "mg",
        "route": "oral",
        "status": "active",
    },
    "allergy": {"substance": "Penicillin", "severity": "severe", "reaction": "Anaphylaxis"},
    "lifestyle": {"assessed_on": "2024-03-01", "smoking": "former", "pack_years": "12"},
    "family_history": {
        "relation": "mother",
        "condition_display": "Breast cancer",
        "onset_age": "48",
    },
    "genetic_marker": {
        "gene": "BRCA1",
        "variant": "c.68_69del",
        "zygosity": "heterozygous",
        "interpretation": "pathogenic",
    },
}
# The first text field of each form, for the NUL-byte and size cases.
TEXT_FIELD = {
    "observation": "code",
    "condition": "display",
    "medication": "name",
    "allergy": "substance",
    "lifestyle": "notes",
    "family_history": "condition_display",
    "genetic_marker": "gene",
}
HUGE = "x" * 1_000_000


def detail_url(patient: Patient) -> str:
    return reverse("patients:detail", kwargs={"public_id": patient.public_id})


def entry_url(kind: str, patient: Patient) -> str:
    return reverse(ENTRY_URLS[kind], kwargs={"public_id": patient.public_id})


def record_counts() -> dict[str, int]:
    counts = {model.__name__: model._default_manager.count() for model in ENTRY_MODELS}
    counts["Patient"] = Patient.objects.count()
    return counts


def last_event(**filters: object) -> AuditEvent:
    event = AuditEvent.objects.filter(**filters).order_by("-seq").first()
    assert event is not None, f"no audit event matching {filters}"
    return event


def patient_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "mrn": "H-998877",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1970-12-10",
        "sex": "female",
        "phone": "+44 20 7946 0000",
        "email": "ada@example.test",
        "address": "1 Analytical Row\nLondon",
    }
    data.update(overrides)
    return data


# --- anonymous --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login_from_every_page(client, patient, method):
    urls = [
        reverse("patients:list"),
        reverse("patients:create"),
        detail_url(patient),
        reverse("patients:edit", kwargs={"public_id": patient.public_id}),
        *(entry_url(kind, patient) for kind in ENTRY_URLS),
    ]
    before = record_counts()
    for url in urls:
        if method == "post" and url == detail_url(patient):
            continue
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    assert record_counts() == before


# --- my patients ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_my_care_teams_patients(client, clinician, patient, team):
    client.force_login(clinician)
    response = client.get(reverse("patients:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert patient.given_name in page and patient.family_name in page
    assert patient.mrn in page
    assert str(patient.age) in page
    assert team.name in page
    assert detail_url(patient) in page
    assert "Exact MRN, full name or family name" in page
    assert 'method="post"' in page  # search never puts a query in a URL


@pytest.mark.django_db
def test_list_never_shows_another_teams_patient(client, other_clinician, patient):
    client.force_login(other_clinician)
    response = client.get(reverse("patients:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert patient.mrn not in page and patient.family_name not in page
    assert "No patients yet" in page


@pytest.mark.django_db
def test_clinician_on_no_team_is_told_why_the_list_is_empty(client):
    client.force_login(factories.ClinicianFactory())
    page = client.get(reverse("patients:list")).content.decode()
    assert "not a member of any care team" in page
    assert "New patient" not in page  # there is no team to put a new patient in


@pytest.mark.django_db
def test_researcher_sees_an_empty_list_with_an_explanation(client, patient):
    client.force_login(factories.ResearcherFactory())
    response = client.get(reverse("patients:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "de-identified data only" in page
    assert patient.mrn not in page
    assert "New patient" not in page
    # Searching does not help either.
    response = client.post(reverse("patients:list"), {"q": patient.mrn})
    assert patient.family_name not in response.content.decode()


@pytest.mark.django_db
def test_admin_sees_every_patient(client, admin_user, patient):
    other = factories.patient_make(team=factories.care_team_make())
    login_verified(client, admin_user)
    page = client.get(reverse("patients:list")).content.decode()
    assert patient.mrn in page and other.mrn in page


@pytest.mark.django_db
def test_list_marks_synthetic_patients(client, clinician, team):
    factories.patient_make(team=team, is_synthetic=True)
    client.force_login(clinician)
    assert "synthetic demo" in client.get(reverse("patients:list")).content.decode()


@pytest.mark.django_db
def test_new_patient_button_only_for_roles_that_may_add_patients(client, clinician, team):
    client.force_login(clinician)
    assert "New patient" in client.get(reverse("patients:list")).content.decode()
    nurse = factories.NurseFactory()
    services.care_team_add_member(team=team, user=nurse)
    client.force_login(nurse)
    assert "New patient" not in client.get(reverse("patients:list")).content.decode()


@pytest.mark.django_db
def test_list_pages_by_25(client, clinician, team):
    for _ in range(27):
        factories.patient_make(team=team)
    client.force_login(clinician)
    first = client.get(reverse("patients:list"))
    assert first.context["page"].paginator.count == 27
    assert len(first.context["page"].object_list) == 25
    second = client.get(reverse("patients:list"), {"page": 2})
    assert len(second.context["page"].object_list) == 2
    # Nonsense page numbers fall back to a real page instead of failing.
    assert client.get(reverse("patients:list"), {"page": "abc"}).status_code == 200
    assert client.get(reverse("patients:list"), {"page": "99999"}).status_code == 200


@pytest.mark.django_db
def test_list_read_is_audited_with_a_count_and_no_phi(client, clinician, patient):
    client.force_login(clinician)
    client.get(reverse("patients:list"))
    event = last_event(action=AuditAction.READ, object_type="patients.patient")
    assert event.actor == clinician
    assert event.detail["count"] == 1
    assert event.detail["page"] == 1
    stored = json.dumps(event.detail)
    for phi in (patient.mrn, patient.given_name, patient.family_name):
        assert phi not in stored


# --- search -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_finds_by_exact_mrn(client, clinician, team, patient):
    other = factories.patient_make(team=team)
    client.force_login(clinician)
    response = client.post(reverse("patients:list"), {"q": patient.mrn.lower()})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [patient]
    assert other.mrn not in response.content.decode()


@pytest.mark.django_db
def test_search_finds_by_full_name_and_family_name_case_insensitively(client, clinician, patient):
    client.force_login(clinician)
    full = f"  {patient.given_name.upper()}   {patient.family_name.lower()} "
    response = client.post(reverse("patients:list"), {"q": full})
    assert list(response.context["page"].object_list) == [patient]
    response = client.post(reverse("patients:list"), {"q": patient.family_name.swapcase()})
    assert list(response.context["page"].object_list) == [patient]


@pytest.mark.django_db
def test_search_is_exact_not_partial(client, clinician, patient):
    client.force_login(clinician)
    response = client.post(reverse("patients:list"), {"q": patient.family_name[:-1]})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert "No patient matches that search" in response.content.decode()


@pytest.mark.django_db
def test_search_never_finds_another_teams_patient(client, other_clinician, patient):
    client.force_login(other_clinician)
    for query in (patient.mrn, patient.family_name, patient.display_name):
        response = client.post(reverse("patients:list"), {"q": query})
        assert list(response.context["page"].object_list) == []
        assert detail_url(patient) not in response.content.decode()


@pytest.mark.django_db
def test_search_pages_by_reposting_the_query(client, clinician, team):
    for _ in range(27):
        factories.patient_make(team=team, family_name="Okafor")
    client.force_login(clinician)
    first = client.post(reverse("patients:list"), {"q": "okafor"})
    assert first.context["page"].paginator.count == 27
    page = first.content.decode()
    assert 'name="q" value="okafor"' in page  # the next page is a re-post, not a link
    assert not [href for href in re.findall(r'href="([^"]*)"', page) if "okafor" in href.lower()]
    second = client.post(reverse("patients:list"), {"q": "okafor", "page": "2"})
    assert len(second.context["page"].object_list) == 2


@pytest.mark.django_db
def test_a_query_string_does_not_search(client, clinician, team, patient):
    factories.patient_make(team=team)
    client.force_login(clinician)
    response = client.get(reverse("patients:list"), {"q": patient.mrn})
    assert response.context["page"].paginator.count == 2


@pytest.mark.django_db
def test_empty_search_goes_back_to_the_list(client, clinician, patient):
    client.force_login(clinician)
    response = client.post(reverse("patients:list"), {"q": "   "})
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:list")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [{"q": "MRN\x00001"}, {"q": HUGE}, {"q": "Doe", "page": "two"}, {"q": "Doe", "page": "-1"}],
)
def test_bad_search_input_is_a_field_error(client, clinician, patient, data):
    client.force_login(clinician)
    response = client.post(reverse("patients:list"), data)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert patient.mrn not in response.content.decode()


@pytest.mark.django_db
def test_search_is_audited_without_the_query(client, clinician, patient):
    client.force_login(clinician)
    client.post(reverse("patients:list"), {"q": patient.mrn})
    event = last_event(action=AuditAction.READ, object_type="patients.patient")
    assert event.detail["search"] is True
    assert event.detail["count"] == 1
    assert patient.mrn not in json.dumps(event.detail)


# --- the record -------------------------------------------------------------------------------


def _fill_record(patient: Patient, by: Any) -> None:
    now = timezone.now()
    services.observation_record(
        by=by,
        patient=patient,
        code="8480-6",
        value=120,
        unit="mm[Hg]",
        effective_at=now - dt.timedelta(days=30),
    )
    services.observation_record(
        by=by, patient=patient, code="8480-6", value=165, unit="mm[Hg]", effective_at=now
    )
    services.observation_record(
        by=by, patient=patient, code="2823-3", value=4.2, unit="mmol/L", effective_at=now
    )
    services.allergy_add(by=by, patient=patient, substance="Penicillin", severity="severe")
    services.condition_add(
        by=by,
        patient=patient,
        code="E11",
        display="Type 2 diabetes mellitus",
        onset_date=dt.date(2015, 3, 1),
    )
    services.condition_add(
        by=by, patient=patient, code="J45.909", display="Asthma", status="resolved"
    )
    services.medication_add(
        by=by, patient=patient, name="Metformin", dose=500, dose_unit="mg", frequency="twice daily"
    )
    services.lifestyle_record(by=by, patient=patient, smoking="current", pack_years=20)
    services.family_history_add(
        by=by, patient=patient, relation="father", condition_display="Myocardial infarction"
    )
    services.genetic_marker_add(
        by=by, patient=patient, gene="LDLR", variant="c.1060+1G>A", zygosity="heterozygous"
    )


@pytest.mark.django_db
def test_record_shows_every_part_of_the_history(client, clinician, patient):
    _fill_record(patient, clinician)
    client.force_login(clinician)
    response = client.get(detail_url(patient))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        patient.mrn,
        "Penicillin",
        "Type 2 diabetes mellitus",
        "Metformin",
        "500 mg",
        "Current smoker",
        "Myocardial infarction",
        "LDLR",
        "Potassium",
    ):
        assert text in page, text
    # Allergies come first, before any other section.
    assert page.index("Penicillin") < page.index("Demographics")
    # Only the latest systolic pressure, flagged against the typical reference.
    assert "165" in page.split('id="vitals"')[1].split("</section>")[0]
    assert "High" in page
    record = response.context["record"]
    assert [c.display for c in record.conditions_active] == ["Type 2 diabetes mellitus"]
    assert [row.observation.value for row in record.vitals] == [165]
    times = [item.at for item in record.timeline]
    assert times == sorted(times, reverse=True)
    assert len(record.timeline) == 10


@pytest.mark.django_db
def test_record_offers_links_to_add_each_kind_of_entry(client, clinician, patient):
    client.force_login(clinician)
    page = client.get(detail_url(patient)).content.decode()
    for kind in ENTRY_URLS:
        assert entry_url(kind, patient) in page, kind
    assert reverse("patients:edit", kwargs={"public_id": patient.public_id}) in page


@pytest.mark.django_db
def test_radiologist_on_the_team_reads_the_record_without_add_links(client, team, patient):
    radiologist = factories.RadiologistFactory()
    services.care_team_add_member(team=team, user=radiologist)
    client.force_login(radiologist)
    response = client.get(detail_url(patient))
    assert response.status_code == 200
    for kind in ENTRY_URLS:
        assert entry_url(kind, patient) not in response.content.decode()


@pytest.mark.django_db
def test_record_read_is_audited(client, clinician, patient):
    client.force_login(clinician)
    client.get(detail_url(patient))
    event = last_event(action=AuditAction.READ, object_id=str(patient.public_id))
    assert event.actor == clinician
    assert event.object_type == "patients.patient"
    assert event.outcome == AuditOutcome.SUCCESS


@pytest.mark.django_db
def test_record_is_never_cached(client, clinician, patient):
    client.force_login(clinician)
    response = client.get(detail_url(patient))
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_another_care_team_gets_404_and_the_denial_is_audited(client, other_clinician, patient):
    client.force_login(other_clinician)
    response = client.get(detail_url(patient))
    assert response.status_code == 404
    assert patient.family_name not in response.content.decode()
    event = last_event(action=AuditAction.DENIED, object_id=str(patient.public_id))
    assert event.actor == other_clinician
    assert event.outcome == AuditOutcome.DENIED
    assert not AuditEvent.objects.filter(
        action=AuditAction.READ, object_id=str(patient.public_id)
    ).exists()


@pytest.mark.django_db
def test_researcher_gets_404_for_a_record(client, patient):
    client.force_login(factories.ResearcherFactory())
    assert client.get(detail_url(patient)).status_code == 404


@pytest.mark.django_db
def test_unknown_or_malformed_ids_are_404(client, clinician):
    client.force_login(clinician)
    assert client.get("/patients/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/patients/not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_record_is_read_only(client, clinician, patient):
    client.force_login(clinician)
    assert client.post(detail_url(patient)).status_code == 405


# --- new patient ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clinician_adds_a_patient_to_their_team(client, clinician, team):
    client.force_login(clinician)
    assert client.get(reverse("patients:create")).status_code == 200
    response = client.post(reverse("patients:create"), patient_post(care_teams=[team.pk]))
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert response["Location"] == detail_url(patient)
    assert list(patient.care_teams.all()) == [team]
    assert patient.created_by == clinician
    assert (patient.mrn, patient.family_name) == ("H-998877", "Lovelace")
    assert patient.date_of_birth == dt.date(1970, 12, 10)
    # Findable at once through the blind index, and visible to the team.
    found = client.post(reverse("patients:list"), {"q": "h-998877"})
    assert list(found.context["page"].object_list) == [patient]
    assert (
        last_event(action=AuditAction.CREATE, object_id=str(patient.public_id)).actor == clinician
    )


@pytest.mark.django_db
def test_new_patient_form_offers_only_the_creators_teams(client, clinician, team):
    elsewhere = factories.care_team_make()
    client.force_login(clinician)
    form = client.get(reverse("patients:create")).context["form"]
    assert list(form.fields["care_teams"].queryset) == [team]
    response = client.post(reverse("patients:create"), patient_post(care_teams=[elsewhere.pk]))
    assert response.status_code == 400
    assert "care_teams" in response.context["form"].errors
    assert Patient.objects.count() == 0


@pytest.mark.django_db
def test_new_patient_needs_a_care_team(client, clinician):
    client.force_login(clinician)
    response = client.post(reverse("patients:create"), patient_post())
    assert response.status_code == 400
    assert "Choose at least one care team." in response.content.decode()
    assert Patient.objects.count() == 0


@pytest.mark.django_db
def test_admin_may_add_a_patient_to_any_team_or_none(client, admin_user, team):
    login_verified(client, admin_user)
    form = client.get(reverse("patients:create")).context["form"]
    assert team in form.fields["care_teams"].queryset
    response = client.post(reverse("patients:create"), patient_post())
    assert response.status_code == 302
    assert Patient.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role_factory", [factories.NurseFactory, factories.RadiologistFactory])
def test_roles_that_may_not_add_patients_get_403(client, team, role_factory):
    user = role_factory()
    services.care_team_add_member(team=team, user=user)
    client.force_login(user)
    assert client.get(reverse("patients:create")).status_code == 403
    response = client.post(reverse("patients:create"), patient_post(care_teams=[team.pk]))
    assert response.status_code == 403
    assert Patient.objects.count() == 0
    denial = last_event(action=AuditAction.DENIED)
    assert denial.object_type == "patients:create"
    assert denial.detail["method"] == "POST"


@pytest.mark.django_db
def test_researcher_may_not_add_patients(client):
    client.force_login(factories.ResearcherFactory())
    assert client.get(reverse("patients:create")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"given_name": "Ad\x00a"}, "given_name"),
        ({"family_name": HUGE}, "family_name"),
        ({"mrn": ""}, "mrn"),
        ({"date_of_birth": "2023-02-30"}, "date_of_birth"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1700-01-01"}, "date_of_birth"),
        ({"sex": "banana"}, "sex"),
        ({"email": "not-an-email"}, "email"),
        ({"address": "a\x00b"}, "address"),
        ({"care_teams": ["not-a-number"]}, "care_teams"),
    ],
)
def test_bad_patient_input_is_a_field_error_and_writes_nothing(
    client, clinician, team, overrides, field
):
    client.force_login(clinician)
    before = record_counts()
    audit_before = AuditEvent.objects.count()
    data = patient_post(care_teams=[team.pk])
    data.update(overrides)
    response = client.post(reverse("patients:create"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Nothing was saved" in response.content.decode()
    assert record_counts() == before
    assert not AuditEvent.objects.filter(seq__gt=audit_before, action=AuditAction.CREATE).exists()


@pytest.mark.django_db
def test_a_taken_mrn_is_a_field_error(client, clinician, team, patient):
    client.force_login(clinician)
    response = client.post(
        reverse("patients:create"), patient_post(mrn=patient.mrn.lower(), care_teams=[team.pk])
    )
    assert response.status_code == 400
    assert response.context["form"].errors["mrn"] == ["A patient with this MRN already exists."]
    assert Patient.objects.count() == 1


# --- edit patient -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_edit_changes_demographics_and_their_search_indexes(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("patients:edit", kwargs={"public_id": patient.public_id})
    response = client.get(url)
    assert response.status_code == 200
    assert patient.mrn in response.content.decode()  # prefilled
    assert last_event(action=AuditAction.READ, object_id=str(patient.public_id)).detail["page"] == (
        "edit"
    )
    data = patient_post(mrn=patient.mrn, family_name="Renamed", given_name=patient.given_name)
    response = client.post(url, data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.family_name == "Renamed"
    found = client.post(reverse("patients:list"), {"q": "renamed"})
    assert list(found.context["page"].object_list) == [patient]
    assert "family_name" in last_event(action=AuditAction.UPDATE).detail["fields"]


@pytest.mark.django_db
def test_bad_edit_changes_nothing(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("patients:edit", kwargs={"public_id": patient.public_id})
    name = patient.family_name
    for bad in ({"family_name": "X\x00"}, {"date_of_birth": "2023-02-30"}, {"given_name": HUGE}):
        response = client.post(url, patient_post(mrn=patient.mrn, **bad))
        assert response.status_code == 400
    taken = factories.patient_make(team=patient.care_teams.get())
    response = client.post(url, patient_post(mrn=taken.mrn, family_name="Changed"))
    assert response.status_code == 400
    assert "A patient with this MRN already exists." in response.content.decode()
    patient.refresh_from_db()
    assert patient.family_name == name
    # The page does not show the refused name as if it were saved.
    assert "Edit Ada Changed" not in response.content.decode()


@pytest.mark.django_db
def test_another_care_team_cannot_edit(client, other_clinician, patient):
    client.force_login(other_clinician)
    url = reverse("patients:edit", kwargs={"public_id": patient.public_id})
    assert client.get(url).status_code == 404
    assert client.post(url, patient_post(family_name="Hijacked")).status_code == 404
    patient.refresh_from_db()
    assert patient.family_name != "Hijacked"
    assert last_event(action=AuditAction.DENIED).detail["wanted"] == "change"


# --- record entries ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ENTRY_URLS))
def test_each_entry_form_adds_one_entry(client, clinician, patient, kind):
    client.force_login(clinician)
    url = entry_url(kind, patient)
    get = client.get(url)
    assert get.status_code == 200
    assert (
        last_event(action=AuditAction.READ, object_id=str(patient.public_id)).detail["page"] == kind
    )
    before = record_counts()
    response = client.post(url, VALID_ENTRIES[kind])
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert response["Location"].startswith(detail_url(patient) + "#")
    after = record_counts()
    changed = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert list(changed.values()) == [1]
    assert last_event(action=AuditAction.CREATE).actor == clinician


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ENTRY_URLS))
@pytest.mark.parametrize("bad", ["nul", "huge"])
def test_entry_forms_reject_nul_bytes_and_huge_values(client, clinician, patient, kind, bad):
    client.force_login(clinician)
    field = TEXT_FIELD[kind]
    data = dict(VALID_ENTRIES[kind])
    data[field] = f"{data.get(field, 'text')}\x00" if bad == "nul" else HUGE
    before = record_counts()
    response = client.post(entry_url(kind, patient), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert record_counts() == before


@pytest.mark.django_db
def test_observation_in_another_unit_is_stored_in_the_canonical_unit(client, clinician, patient):
    client.force_login(clinician)
    data = {"code": "8310-5", "value": "98.6", "unit": "[degF]", "effective_at": "2024-01-05T08:00"}
    assert client.post(entry_url("observation", patient), data).status_code == 302
    obs = Observation.objects.get()
    assert (round(obs.value, 1), obs.unit) == (37.0, "Cel")
    assert obs.effective_at == dt.datetime(2024, 1, 5, 8, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"value": "700"}, "value", "outside the plausible range"),
        ({"value": "abc"}, "value", "Enter a number."),
        ({"value": "nan"}, "value", ""),
        ({"value": "inf"}, "value", ""),
        ({"value": "1e400"}, "value", ""),
        ({"unit": "kg"}, "unit", "is recorded in"),
        ({"unit": "furlongs"}, "unit", "valid choice"),
        ({"code": "bogus"}, "code", "valid choice"),
        ({"effective_at": "2023-02-30T10:00"}, "effective_at", ""),
        ({"effective_at": "2999-01-01T10:00"}, "effective_at", "in the future"),
    ],
)
def test_bad_observations_are_field_errors(client, clinician, patient, overrides, field, message):
    client.force_login(clinician)
    data = {**VALID_ENTRIES["observation"], **overrides}
    response = client.post(entry_url("observation", patient), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_observation_form_groups_codes_and_carries_units(client, clinician, patient):
    client.force_login(clinician)
    page = client.get(entry_url("observation", patient)).content.decode()
    assert '<optgroup label="Vital signs">' in page
    assert '<optgroup label="Laboratory">' in page
    assert 'data-units="Cel [degF]"' in page
    assert "js/patient-forms.js" in page
    assert "<script>" not in page  # CSP: no inline scripts


@pytest.mark.django_db
def test_condition_from_the_common_list(client, clinician, patient):
    client.force_login(clinician)
    response = client.post(entry_url("condition", patient), {"common": "E11", "status": "active"})
    assert response.status_code == 302
    condition = Condition.objects.get()
    assert (condition.code, condition.display) == ("E11", "Type 2 diabetes mellitus")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"status": "active"}, "code"),
        ({"common": "NOT-A-CODE", "status": "active"}, "common"),
        ({"code": "I10", "display": "Hypertension", "status": "maybe"}, "status"),
        (
            {
                "code": "I10",
                "display": "Hypertension",
                "status": "active",
                "onset_date": "2999-01-01",
            },
            "onset_date",
        ),
        (
            {
                "code": "I10",
                "display": "Hypertension",
                "status": "active",
                "onset_date": "2023-02-30",
            },
            "onset_date",
        ),
    ],
)
def test_bad_conditions_are_field_errors(client, clinician, patient, data, field):
    client.force_login(clinician)
    response = client.post(entry_url("condition", patient), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Condition.objects.count() == 0


@pytest.mark.django_db
def test_service_rules_become_field_errors(client, clinician, patient):
    client.force_login(clinician)
    medication = {
        **VALID_ENTRIES["medication"],
        "start_date": "2024-05-01",
        "end_date": "2024-01-01",
    }
    response = client.post(entry_url("medication", patient), medication)
    assert response.status_code == 400
    assert response.context["form"].errors["end_date"] == ["The end date is before the start date."]
    lifestyle = {"assessed_on": "2024-03-01", "smoking": "never", "pack_years": "5"}
    response = client.post(entry_url("lifestyle", patient), lifestyle)
    assert response.status_code == 400
    assert "pack_years" in response.context["form"].errors
    assert Medication.objects.count() == LifestyleAssessment.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "overrides", "field"),
    [
        ("medication", {"dose": "-1"}, "dose"),
        ("medication", {"dose": "1e999"}, "dose"),
        ("medication", {"dose": "12345678901.5"}, "dose"),
        ("medication", {"route": "rectal-ish"}, "route"),
        ("medication", {"start_date": "2023-02-30"}, "start_date"),
        ("allergy", {"severity": "lethal"}, "severity"),
        ("allergy", {"noted_on": "2999-12-31"}, "noted_on"),
        ("lifestyle", {"pack_years": "-3"}, "pack_years"),
        ("lifestyle", {"alcohol_units_per_week": "lots"}, "alcohol_units_per_week"),
        (
            "lifestyle",
            {"activity_minutes_per_week": "99999999999999999999"},
            "activity_minutes_per_week",
        ),
        ("lifestyle", {"assessed_on": ""}, "assessed_on"),
        ("lifestyle", {"smoking": ""}, "smoking"),  # asked, never defaulted
        ("allergy", {"severity": ""}, "severity"),
        ("family_history", {"onset_age": "130"}, "onset_age"),
        ("family_history", {"relation": "cousin-twice-removed"}, "relation"),
        ("genetic_marker", {"zygosity": "tetraploid"}, "zygosity"),
        ("genetic_marker", {"tested_on": "2020-13-45"}, "tested_on"),
    ],
)
def test_wrong_types_and_choices_are_field_errors(
    client, clinician, patient, kind, overrides, field
):
    client.force_login(clinician)
    before = record_counts()
    response = client.post(entry_url(kind, patient), {**VALID_ENTRIES[kind], **overrides})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert record_counts() == before


@pytest.mark.django_db
def test_nurse_records_vitals_but_may_not_add_a_condition(client, team, patient):
    nurse = factories.NurseFactory()
    services.care_team_add_member(team=team, user=nurse)
    client.force_login(nurse)
    assert (
        client.post(entry_url("observation", patient), VALID_ENTRIES["observation"]).status_code
        == 302
    )
    assert client.get(entry_url("condition", patient)).status_code == 403
    response = client.post(entry_url("condition", patient), VALID_ENTRIES["condition"])
    assert response.status_code == 403
    assert Condition.objects.count() == 0
    denied = last_event(action=AuditAction.DENIED)
    assert denied.object_id == str(patient.public_id)
    assert denied.actor == nurse


@pytest.mark.django_db
def test_radiologist_may_not_add_entries(client, team, patient):
    radiologist = factories.RadiologistFactory()
    services.care_team_add_member(team=team, user=radiologist)
    client.force_login(radiologist)
    response = client.post(entry_url("observation", patient), VALID_ENTRIES["observation"])
    assert response.status_code == 403
    assert Observation.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(ENTRY_URLS))
def test_another_care_team_cannot_add_entries(client, other_clinician, patient, kind):
    client.force_login(other_clinician)
    before = record_counts()
    assert client.get(entry_url(kind, patient)).status_code == 404
    assert client.post(entry_url(kind, patient), VALID_ENTRIES[kind]).status_code == 404
    assert record_counts() == before


@pytest.mark.django_db
def test_admin_adds_entries_to_any_patient(client, admin_user, patient):
    login_verified(client, admin_user)
    response = client.post(entry_url("allergy", patient), VALID_ENTRIES["allergy"])
    assert response.status_code == 302
    page = client.get(detail_url(patient)).content.decode()
    assert "Penicillin" in page
    assert "has-allergies" in page
