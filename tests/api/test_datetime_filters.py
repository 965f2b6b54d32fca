"""Date-time filters take any ISO offset Python parses: PostgreSQL refuses offsets past ±15:59
("time zone displacement out of range", found by schemathesis), so the value goes to UTC first."""

from urllib.parse import quote

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stamp", ["2517-12-10T22:16:07+16:42", "2020-01-01T00:00:00-23:59"])
def test_observations_filtered_with_an_extreme_offset_answer_200(api, patient, stamp):
    factories.record_entry_make("observations", patient=patient)
    url = f"/api/v1/patients/{patient.public_id}/observations/?effective_after={quote(stamp)}"
    assert api.get(url).status_code == 200


def test_patients_filtered_with_an_extreme_offset_answer_200(api, patient):
    stamp = quote("1999-05-05T05:05:05+17:30")
    response = api.get(f"/api/v1/patients/?created_after={stamp}&created_before={stamp}")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_a_moment_past_the_calendar_in_utc_is_a_400(api, patient):
    stamp = quote("9999-12-31T23:59:59-12:00")
    response = api.get(f"/api/v1/patients/?created_after={stamp}")
    assert response.status_code == 400
    assert "out of range" in response.content.decode()
