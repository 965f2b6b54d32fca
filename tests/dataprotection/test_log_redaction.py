"""PHI typed into a URL does not reach the logs (found by proof/canaries.py)."""

import logging
import uuid

import pytest

from healthmentor.log_redaction import REDACTED, RedactRequestPaths, path_redact


def test_route_words_and_uuids_are_kept_anything_else_is_redacted():
    some_id = str(uuid.uuid4())
    assert path_redact(f"/patients/{some_id}/observations/new/") == (
        f"/patients/{some_id}/observations/new/"
    )
    assert path_redact("/api/v1/patients/") == "/api/v1/patients/"
    assert path_redact("/patients/MRN0012345/") == f"/patients/{REDACTED}/"
    assert path_redact("/patients/jane doe/edit/") == f"/patients/{REDACTED}/edit/"


@pytest.mark.django_db
def test_a_404_for_an_mrn_in_the_url_logs_no_mrn(client, clinician, caplog):
    client.force_login(clinician)
    logger = logging.getLogger("django.request")
    redact = RedactRequestPaths()
    caplog.handler.addFilter(redact)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            assert client.get("/patients/MRNSECRET42/").status_code == 404
    finally:
        caplog.handler.removeFilter(redact)
    text = caplog.text
    assert "Not Found" in text
    assert "MRNSECRET42" not in text and REDACTED in text
