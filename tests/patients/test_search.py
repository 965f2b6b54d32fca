"""Exact-match search through blind indexes: insensitive to case, accents and spacing, never
partial, and never across care teams."""

import pytest

from patients.selectors import patient_search
from tests.factories import (
    AdminFactory,
    ClinicianFactory,
    ResearcherFactory,
    care_team_make,
    patient_make,
)


@pytest.fixture
def world(db):
    clinician, other_clinician = ClinicianFactory(), ClinicianFactory()
    team = care_team_make(members=[clinician])
    other_team = care_team_make(members=[other_clinician])
    mine = patient_make(team=team, mrn="AB-123/45", given_name="Zoë", family_name="Ñúñez-Smith")
    theirs = patient_make(
        team=other_team, mrn="CD-678", given_name="Zoe", family_name="Nunez Smith"
    )
    return {"clinician": clinician, "other": other_clinician, "mine": mine, "theirs": theirs}


@pytest.mark.parametrize(
    "query",
    [
        "AB-123/45",
        "ab-123/45",
        "  AB 123   45 ",
        "ab.123.45",
        "Zoë Ñúñez-Smith",
        "zoe nunez smith",
        "  ZOE   NUÑEZ-smith  ",
        "Ñúñez-Smith",
        "nunez smith",
        "NUNEZ-SMITH",
    ],
)
def test_exact_matches_ignore_case_accents_and_spacing(world, query):
    assert list(patient_search(user=world["clinician"], query=query)) == [world["mine"]]


@pytest.mark.parametrize(
    "query", ["Zoë", "Nunez", "Smith", "AB-123", "123/45", "AB12345", "Zoe Nunez", "nunez smit"]
)
def test_partial_matches_do_not_match(world, query):
    assert list(patient_search(user=world["clinician"], query=query)) == []


def test_another_teams_patient_is_never_returned(world):
    for query in ("Nunez Smith", "Zoe Nunez Smith", "CD-678", ""):
        assert world["theirs"] not in patient_search(user=world["clinician"], query=query)
    assert list(patient_search(user=world["other"], query="nunez smith")) == [world["theirs"]]


def test_a_researcher_finds_nobody_and_an_admin_finds_both(world):
    assert list(patient_search(user=ResearcherFactory(), query="nunez smith")) == []
    found = set(patient_search(user=AdminFactory(), query="Nunez-Smith"))
    assert found == {world["mine"], world["theirs"]}


def test_an_empty_query_lists_the_visible_patients(world):
    assert list(patient_search(user=world["clinician"], query="   ")) == [world["mine"]]
