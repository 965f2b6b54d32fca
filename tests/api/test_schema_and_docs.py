"""The OpenAPI schema generates cleanly, and /api/docs/ (Swagger UI from drf-spectacular-sidecar)
is served from our own static files under our Content Security Policy (no inline script)."""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# /api/docs/ is routed (healthmentor/urls.py) to SpectacularSwaggerView, which inlines its init
# script and a <style> block: under script-src/style-src 'self' the page stays blank.
# SpectacularSwaggerSplitView serves the script as /api/docs/?script, and a template override
# without the <style> block removes the last violation. Strict: these fail once fixed, as a
# reminder to drop the marker.


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "healthmentor.test_settings"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yaml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/patients/{public_id}/observations/{entry_id}/" in schema
    assert "PaginatedPatientList" in schema


@pytest.mark.django_db
def test_the_schema_endpoint_serves_it(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content


class _Page(HTMLParser):
    """The URLs a page loads, and its inline <script>/<style> bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [found[name] or "" for name in ("src", "href") if name in found]
        self._open = tag if tag in ("script", "style") and "src" not in found else None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def _docs(client) -> _Page:
    client.force_login(factories.ClinicianFactory())
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = _Page()
    page.feed(response.content.decode())
    return page


@pytest.mark.django_db
def test_the_docs_page_loads_for_a_signed_in_user_from_local_urls_only(client):
    page = _docs(client)
    assert page.urls
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert any(
        "/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in u for u in page.urls
    )
    for url in page.urls:
        if url.startswith(settings.STATIC_URL):
            assert client.get(url).status_code == 200, url
    assert not re.search(rb"https?://", client.get("/api/docs/").content)


@pytest.mark.django_db
def test_the_docs_page_has_no_inline_script_or_style(client):
    page = _docs(client)
    assert page.inline == []
    script = client.get("/api/docs/?script")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_in_a_browser_without_csp_violations(page):
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 30
    assert page.console_errors == []
