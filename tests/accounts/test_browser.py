"""In a real browser (Debian chromium): an administrator signs in, is made to enrol 2FA by scanning
(here: reading) the secret, and the pages break no rule of the Content Security Policy."""

import os
from base64 import b32decode
from pathlib import Path

import pytest
from django_otp.oath import totp

from tests import factories

# `page` is tests/playwright_fixtures.py's: one chromium for the whole session.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from such a
# thread unless told this is a test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"accounts-{name}.png"), full_page=True)


@pytest.fixture
def chief(transactional_db):
    # Created before the browser starts: with Playwright's event loop running, ORM calls made in
    # this thread would open a second connection that nobody closes.
    return factories.AdminFactory(email="chief@hospital.test", full_name="Chief Admin")


def test_an_admin_signs_in_and_enrols_2fa_in_a_browser(chief, page):
    admin = chief
    page.goto("/accounts/login/")
    _shot(page, "login")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url("**/accounts/profile/2fa/enrol/")
    assert page.locator(".qr img").evaluate("img => img.naturalWidth > 0")
    _shot(page, "enrol")

    secret = page.inner_text("code.secret").replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("button[type=submit]:has-text('Confirm')")
    page.wait_for_selector("ul.backup-codes")
    assert page.locator("ul.backup-codes li").count() == 10
    _shot(page, "backup-codes")

    page.goto("/accounts/profile/")
    assert "cannot be turned off" in page.content()
    _shot(page, "profile")
    assert page.console_errors == []
