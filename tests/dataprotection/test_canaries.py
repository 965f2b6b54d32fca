"""The PHI canaries in CI: `python -m proof.canaries` (see the README's Operations section) seeds a
patient whose every PHI field holds a unique marker, runs the portal end to end on a PostgreSQL
and a Redis of its own (web and API, error pages, an imaging study analysed to DONE by a real
worker with a real bundle, a risk assessment with a real model, the research export), then
looks for the markers in the logs, Redis, the result table, the error pages, a pg_dump, the
export and the media folder: none may be found."""

import pytest

from proof.drills.stack import services_available
from tests.imaging.conftest import imaging_bundle_folder  # noqa: F401  (a session fixture)
from tests.proofs import proof_run

pytestmark = [pytest.mark.slow]


def test_no_phi_marker_is_found_outside_the_encrypted_columns(imaging_bundle_folder):  # noqa: F811
    missing = services_available()
    if missing:
        pytest.skip(f"the canaries need {missing}")
    result, output = proof_run(["proof.canaries"], imaging_bundle=imaging_bundle_folder)
    # The whole path ran: a study DONE through the worker and an assessment, so every place a
    # result could carry PHI was written before it was searched.
    assert result["run"]["imaging_model"] and result["run"]["risk_model"], result["run"]
    assert list(result["run"]["studies"].values()) == ["done"], result["run"]
    assert result["run"]["statuses"]["export_csv"] == 200
    assert {name: s["hits"] for name, s in result["sources"].items() if s["hits"]} == {}
    assert all(s["bytes"] > 0 for s in result["sources"].values()), result["sources"]
    assert result["ok"], output
    assert result["_exit"] == 0, output
