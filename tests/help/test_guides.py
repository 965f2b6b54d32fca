"""The help center: every guide renders for every role with its screenshots, the registry points at
real pages, the "?" of a page opens its guide, search finds guides by their text, the tour's state
is kept per user and role, and nobody signed out reads anything."""

import struct
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.urls import get_resolver, reverse

from accounts.models import Role, User
from prediction.models import ModelVersion
from support.guides import GUIDES, guide_for_url_name, guide_get, guides_search
from tests import factories

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "static"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROLE_FACTORIES: dict[str, Any] = {
    Role.CLINICIAN: factories.ClinicianFactory,
    Role.NURSE: factories.NurseFactory,
    Role.RADIOLOGIST: factories.RadiologistFactory,
    Role.RESEARCHER: factories.ResearcherFactory,
    Role.ADMIN: factories.AdminFactory,
}


def signed_in(client, role: str) -> User:
    user: User = ROLE_FACTORIES[role]()
    client.force_login(user)
    if user.must_use_two_factor:
        # Administrators are verified with a second factor (AdminTwoFactorMiddleware).
        device: Any = factories.TOTPDeviceFactory(user=user)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return user


@pytest.mark.parametrize("role", Role.values)
def test_every_guide_renders_for_every_role(client, role):
    signed_in(client, role)
    for guide in GUIDES:
        response = client.get(reverse("help:guide", args=[guide.slug]))
        assert response.status_code == 200, (role, guide.slug)
        body = response.content.decode()
        assert guide.title in body
        for name in guide.screenshots:
            assert f"/static/help/screenshots/{name}.png" in body, (guide.slug, name)


def test_every_screenshot_a_guide_names_exists_and_is_a_png():
    for guide in GUIDES:
        for name in guide.screenshots:
            path = STATIC / guide.screenshot_path(name)
            assert path.is_file(), f"{path} is missing: run manage.py help_screenshots"
            head = path.read_bytes()[:24]
            assert head[:8] == PNG_SIGNATURE, path
            width, height = struct.unpack(">II", head[16:24])
            assert 300 <= width <= 1280 and 100 <= height <= 1000, (path, width, height)
            assert path.stat().st_size < 250_000, path
    total = sum(p.stat().st_size for p in (STATIC / "help" / "screenshots").glob("*.png"))
    assert total < 3_000_000


def test_each_guide_template_shows_exactly_the_screenshots_it_names():
    for guide in GUIDES:
        source = Path(get_template(guide.template).origin.name).read_text()
        shown = {
            part.split('"')[0] for part in source.split('with name="')[1:]
        }  # {% include "help/_figure.html" with name="..." %}
        assert shown == set(guide.screenshots), guide.slug


def test_every_url_name_in_the_registry_is_a_real_page_and_has_one_guide():
    known = {
        f"{ns}:{name}"
        for ns, (_, resolver) in get_resolver().namespace_dict.items()
        for name in resolver.reverse_dict
        if isinstance(name, str)
    }
    seen: set[str] = set()
    for guide in GUIDES:
        for url_name in guide.url_names:
            assert url_name in known, f"{guide.slug}: {url_name} is not a URL name"
            assert url_name not in seen, f"{url_name} is in two guides"
            seen.add(url_name)


def test_the_registry_covers_each_task_of_the_issue():
    slugs = {g.slug for g in GUIDES}
    assert {
        "find-a-patient",
        "record-observations",
        "risk-assessment",
        "imaging-study",
        "worklist-and-reports",
        "recommendations",
        "dashboards",
        "administration",
        "getting-help",
    } <= slugs
    assert len(slugs) == len(GUIDES)
    assert guide_get("no-such-guide") is None


def test_the_index_lists_the_users_role_first_and_every_guide(client):
    signed_in(client, Role.RADIOLOGIST)
    body = client.get(reverse("help:index")).content.decode()
    assert body.index('id="role-radiologist"') < body.index('id="role-clinician"')
    for guide in GUIDES:
        assert reverse("help:guide", args=[guide.slug]) in body
    assert "manage.py help_screenshots" not in body  # the regeneration note is for admins


def test_the_index_tells_admins_how_to_regenerate_the_screenshots(client):
    signed_in(client, Role.ADMIN)
    body = client.get(reverse("help:index")).content.decode()
    assert body.index('id="role-admin"') < body.index('id="role-clinician"')
    assert "manage.py help_screenshots" in body


def test_a_researcher_reads_every_guide_with_theirs_first(client):
    signed_in(client, Role.RESEARCHER)
    body = client.get(reverse("help:index")).content.decode()
    assert body.index('id="role-researcher"') < body.index('id="role-clinician"')
    assert reverse("help:guide", args=["worklist-and-reports"]) in body


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("/patients/", "find-a-patient"),
        ("/imaging/", "worklist-and-reports"),
        ("/recommendations/", "recommendations"),
        ("/dashboards/models/", "dashboards"),
        ("/accounts/profile/", "your-account"),
    ],
)
def test_the_question_mark_of_a_page_opens_its_guide(client, url, slug):
    signed_in(client, Role.CLINICIAN)
    response = client.get(url)
    assert response.status_code == 200
    link = f'<a class="help-link" href="/help/{slug}/" aria-label="Help for this page"'
    assert link in response.content.decode()


def test_the_question_mark_of_a_patient_record_and_a_form_open_their_guides(
    client, clinician, patient
):
    client.force_login(clinician)
    record = client.get(reverse("patients:detail", args=[patient.public_id])).content.decode()
    assert 'class="help-link" href="/help/find-a-patient/"' in record
    url = reverse("patients:observation_add", args=[patient.public_id])
    form = client.get(url).content.decode()
    assert 'class="help-link" href="/help/record-observations/"' in form
    assert "The number only, in the chosen unit" in form  # the Value field's help text


def test_a_page_without_a_guide_points_the_question_mark_at_the_help_center(client):
    signed_in(client, Role.CLINICIAN)
    body = client.get(reverse("help:search")).content.decode()
    assert 'class="help-link" href="/help/"' in body
    assert guide_for_url_name("help:index") is None


def test_search_finds_a_guide_by_a_word_of_its_body_case_and_accents_ignored(client):
    signed_in(client, Role.NURSE)
    # Neither word is in the risk guide's title; the accent and the capitals do not matter.
    response = client.get(reverse("help:search"), {"q": "CALIBRATIÔN slope"})
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("help:guide", args=["risk-assessment"]) in body
    assert [h.guide.slug for h in guides_search("pack-years")] == ["record-observations"]
    assert guides_search("Hounsfield")[0].guide.slug == "imaging-study"


def test_search_ranks_the_guide_about_it_first():
    hits = guides_search("sign report")
    assert hits[0].guide.slug == "worklist-and-reports"
    assert "sign" in hits[0].snippet.lower()


def test_search_finds_nothing_for_a_word_in_no_guide(client):
    signed_in(client, Role.CLINICIAN)
    body = client.get(reverse("help:search"), {"q": "xylophone"}).content.decode()
    assert "0 guides for" in body
    assert guides_search("xylophone") == []
    assert guides_search("") == []


def test_anonymous_is_sent_to_sign_in(client):
    for url in (
        reverse("help:index"),
        reverse("help:search") + "?q=report",
        reverse("help:guide", args=["find-a-patient"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    assert client.post(reverse("help:tour")).status_code == 302


def test_an_unknown_guide_is_a_404(client):
    signed_in(client, Role.CLINICIAN)
    assert client.get(reverse("help:guide", args=["no-such-guide"])).status_code == 404


def test_the_model_card_and_the_result_link_to_how_to_read_this_result(client, clinician):
    version = ModelVersion.objects.create(
        disease="diabetes",
        version="help-test",
        algorithm="logistic_regression",
        artifact_dir="diabetes/help-test",
        sha256="0" * 64,
        manifest={"disease": "diabetes", "version": "help-test", "metrics": {}},
    )
    client.force_login(clinician)
    body = client.get(reverse("prediction:model_detail", args=[version.public_id])).content
    assert b'href="/help/risk-assessment/#ra-read">How to read this result</a>' in body
    result = Path(get_template("prediction/result.html").origin.name).read_text()
    assert "{% url 'help:guide' 'risk-assessment' %}#ra-read\">How to read this result" in result


def test_the_guide_explains_the_parts_of_the_result_page(client):
    signed_in(client, Role.CLINICIAN)
    body = client.get(reverse("help:guide", args=["risk-assessment"])).content.decode()
    for words in (
        'id="ra-read"',
        "The probability",
        "The risk band",
        "The threshold",
        "Pushing the risk up",
        "Calibration",
        "synthetic data, not for clinical use",
    ):
        assert words in body


# --- the tour's state ---------------------------------------------------------------------------


def test_the_tour_opens_by_itself_until_dismissed_for_the_role(client, settings):
    settings.HELP_TOUR_AUTOSTART = True
    user = signed_in(client, Role.CLINICIAN)
    assert "data-tour-autostart" in client.get("/patients/").content.decode()

    response = client.post(reverse("help:tour"))
    assert response.status_code == 200
    assert response.json() == {"role": "clinician", "seen": ["clinician"]}
    user.refresh_from_db()
    assert user.tours_seen == ["clinician"]
    assert "data-tour-autostart" not in client.get("/patients/").content.decode()
    assert client.post(reverse("help:tour")).json()["seen"] == ["clinician"]  # idempotent

    # A new role brings that role's tour.
    User.objects.filter(pk=user.pk).update(role=Role.NURSE)
    assert "data-tour-autostart" in client.get("/patients/").content.decode()


def test_the_tour_state_is_only_posted(client):
    signed_in(client, Role.CLINICIAN)
    assert client.get(reverse("help:tour")).status_code == 405


def test_the_tour_state_needs_the_csrf_token(clinician):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(clinician)
    assert strict.post(reverse("help:tour")).status_code == 403


def test_the_tour_autostart_can_be_turned_off(client, settings):
    settings.HELP_TOUR_AUTOSTART = False
    signed_in(client, Role.CLINICIAN)
    body = client.get("/patients/").content.decode()
    assert "data-tour-autostart" not in body
    assert 'title="Take the tour"' in body


@pytest.mark.parametrize(
    ("template", "guide"),
    [
        ("imaging/model_detail.html", "'imaging-study' %}#im-read"),
        ("recommendations/benefit_model.html", "'recommendations' %}#rc-read"),
    ],
)
def test_the_other_model_cards_link_to_how_to_read_their_result(template, guide):
    # Rendering these cards needs a trained CNN or benefit model; the link is in the template
    # (and the anchors it names exist: test_every_guide_renders above renders those guides).
    text = Path(get_template(template).origin.name).read_text()
    assert f"{{% url 'help:guide' {guide}\">How to read this result" in text
    slug, anchor = guide.split("'")[1], guide.split("#")[1]
    guide_text = Path(get_template(f"help/guides/{slug}.html").origin.name).read_text()
    assert f'id="{anchor}"' in guide_text
