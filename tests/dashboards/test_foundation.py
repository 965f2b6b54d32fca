"""What every dashboard shares: the vendored Chart.js (the version and checksum on record, no
Chart.js 2 or Highcharts served), the base chart view (401/403/404/400 as JSON, a payload
with its words and table and no django-chartjs "view" repr, cached per permission scope) and the
colour-blind-safe palette."""

import hashlib
import json
from pathlib import Path
from typing import ClassVar

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.http import Http404
from django.test import RequestFactory

from dashboards.charts import BAND_COLOURS, PALETTE, Chart, Table, series_style
from dashboards.views.base import CARE_ROLES, ChartView, user_scope
from dashboards.views.tabs import tab_may_see
from tests import factories

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor" / "chartjs"


def test_the_vendored_chartjs_is_the_recorded_version_and_checksum():
    record = json.loads((VENDOR / "VENDOR.json").read_text())
    body = (VENDOR / record["file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == record["sha256"]
    assert f"Chart.js v{record['version']}".encode() in body[:300]
    assert record["version"].startswith("4.") and record["licence"] == "MIT"
    assert (VENDOR / "LICENSE.md").exists()


def test_neither_chartjs_2_nor_highcharts_is_collected_or_served():
    assert "chartjs" not in settings.INSTALLED_APPS  # its static folder holds both
    for name in ("js/Chart.min.js", "js/highcharts.js", "js/excanvas.js"):
        assert finders.find(name) is None
    templates = Path(settings.BASE_DIR) / "templates"
    text = " ".join(p.read_text() for p in templates.rglob("*.html"))
    assert "highcharts" not in text.lower()
    assert "cdn" not in text.lower()


def test_the_palette_is_okabe_ito_and_series_differ_without_colour():
    assert PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(BAND_COLOURS.values())) == 3
    styles = [series_style(i) for i in range(4)]
    assert len({s["pointStyle"] for s in styles}) == 4
    assert len({tuple(s["borderDash"]) for s in styles}) == 4


class CountingChart(ChartView):
    roles: ClassVar[frozenset[str]] = CARE_ROLES
    calls = 0

    def chart(self) -> Chart:
        type(self).calls += 1
        if self.request.GET.get("missing"):
            raise Http404
        if self.request.GET.get("bad"):
            raise ValueError("Pick a period of 30, 90 or 365 days.")
        return Chart(
            type="bar",
            title="Counting",
            description="How many times it was computed.",
            labels=["a"],
            datasets=[{"label": "n", "data": [type(self).calls]}],
            table=Table(columns=["label", "n"], rows=[["a", type(self).calls]]),
        )


def ask(user, query: str = ""):
    request = RequestFactory().get(f"/dashboards/data/counting/?{query}")
    request.user = user
    response = CountingChart.as_view()(request)
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
def test_anonymous_gets_401_and_a_role_outside_the_chart_gets_403():
    assert ask(AnonymousUser())[0] == 401
    status, body = ask(factories.ResearcherFactory())
    assert status == 403 and "role" in body["detail"]


@pytest.mark.django_db
def test_a_missing_object_is_404_and_a_bad_parameter_400_with_a_sentence():
    clinician = factories.ClinicianFactory()
    assert ask(clinician, "missing=1")[0] == 404
    status, body = ask(clinician, "bad=1")
    assert status == 400 and body["detail"] == "Pick a period of 30, 90 or 365 days."


@pytest.mark.django_db
def test_the_payload_has_its_words_table_and_computed_time_and_no_view_repr():
    status, body = ask(factories.ClinicianFactory())
    assert status == 200
    assert set(body) == {
        "type", "title", "description", "data", "options", "table", "notes", "computed_at",
        "empty", "empty_text",
    }  # fmt: skip
    assert body["table"]["rows"] and body["computed_at"] and body["empty"] is False


@pytest.mark.django_db
def test_payloads_are_cached_per_scope_not_shared_between_clinicians():
    CountingChart.calls = 0
    first, second = factories.ClinicianFactory(), factories.ClinicianFactory()
    a1, a2 = ask(first)[1], ask(first)[1]
    b = ask(second)[1]
    assert a1 == a2  # served from the cache: same figures, same computed time
    assert CountingChart.calls == 2  # one per clinician
    assert b["data"]["datasets"][0]["data"] == [2]
    assert user_scope(first) != user_scope(second)


@pytest.mark.django_db
def test_admins_see_every_dashboard_and_researchers_no_clinician_home():
    admin, researcher = factories.AdminFactory(), factories.ResearcherFactory()
    for name in ("dashboards:home", "dashboards:population", "dashboards:imaging_ops"):
        assert tab_may_see(admin, name)
    assert not tab_may_see(researcher, "dashboards:home")
    assert not tab_may_see(researcher, "dashboards:imaging_ops")
    assert tab_may_see(researcher, "dashboards:population")
