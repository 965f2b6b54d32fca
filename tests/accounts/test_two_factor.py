"""Second factor: the code step at sign-in, enrolment with a QR code, backup codes, turning it off,
and administrators kept away from everything until their session is verified."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditAction, AuditEvent
from accounts.services import BACKUP_CODE_COUNT, backup_codes_generate
from accounts.views.auth import MAX_CODE_ATTEMPTS
from tests import factories
from tests.accounts.helpers import login_post, login_verified, totp_code

CODE = "/accounts/login/code/"
ENROL = "/accounts/profile/2fa/enrol/"
DISABLE = "/accounts/profile/2fa/disable/"
BACKUP = "/accounts/profile/2fa/backup-codes/"
PROFILE = "/accounts/profile/"


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def no_throttle(settings):
    # django-otp delays the next try after a wrong code; tests that retry at once switch it off.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


# --- The code step at sign-in ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_with_a_device_is_asked_for_a_code_before_being_signed_in(client):
    device = factories.TOTPDeviceFactory()
    response = login_post(client, device.user.email)
    assert response.status_code == 302
    assert response["Location"] == CODE
    assert not _signed_in(client)
    assert client.get(PROFILE).status_code == 302  # not yet
    assert client.get(CODE).status_code == 200


@pytest.mark.django_db
def test_the_right_code_signs_in_with_a_verified_session(client):
    device = factories.TOTPDeviceFactory()
    login_post(client, device.user.email, next=PROFILE)
    response = client.post(CODE, {"code": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == PROFILE
    assert client.session["_auth_user_id"] == str(device.user.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=device.user).count() == 1


@pytest.mark.django_db
def test_a_wrong_code_is_refused_and_audited(client):
    device = factories.TOTPDeviceFactory()
    login_post(client, device.user.email)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    response = client.post(CODE, {"code": wrong})
    assert response.status_code == 200
    assert b"That code is not valid." in response.content
    assert not _signed_in(client)
    failed = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).latest("seq")
    assert failed.detail == {"username": device.user.email, "step": "second_factor"}


@pytest.mark.django_db
def test_a_code_cannot_be_used_twice(client, no_throttle):
    device = factories.TOTPDeviceFactory()
    code = totp_code(device)
    login_post(client, device.user.email)
    client.post(CODE, {"code": code})
    client.post("/accounts/logout/")
    login_post(client, device.user.email)
    response = client.post(CODE, {"code": code})
    assert response.status_code == 200
    assert not _signed_in(client)


@pytest.mark.django_db
def test_five_wrong_codes_send_the_user_back_to_the_password(client, no_throttle):
    device = factories.TOTPDeviceFactory()
    login_post(client, device.user.email)
    for _ in range(4):
        assert client.post(CODE, {"code": "000000"}).status_code == 200
    response = client.post(CODE, {"code": "000000"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    # The right code no longer helps: the half-finished sign-in is gone.
    response = client.post(CODE, {"code": totp_code(device)})
    assert response["Location"] == "/accounts/login/"
    assert not _signed_in(client)


@pytest.mark.django_db
def test_wrong_codes_count_towards_the_lockout(client, no_throttle, settings):
    device = factories.TOTPDeviceFactory()
    response = None
    for _ in range(settings.AXES_FAILURE_LIMIT // MAX_CODE_ATTEMPTS):
        login_post(client, device.user.email)
        for _ in range(MAX_CODE_ATTEMPTS):
            response = client.post(CODE, {"code": "000000"})
    assert response.status_code == 429
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT).exists()
    # Now even the password step refuses the right password.
    assert login_post(client, device.user.email).status_code == 429


@pytest.mark.django_db
def test_an_unverified_admin_who_is_locked_out_by_wrong_codes_is_signed_out(client, no_throttle):
    admin = factories.AdminFactory()
    factories.TOTPDeviceFactory(user=admin)
    client.force_login(admin)
    response = None
    for _ in range(10):
        response = client.post(CODE, {"code": "000000"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_half_finished_sign_in_expires_after_5_minutes(client):
    device = factories.TOTPDeviceFactory()
    login_post(client, device.user.email)
    session = client.session
    pending = session["accounts.pending_login"]
    pending["at"] = (timezone.now() - timedelta(minutes=6)).isoformat()
    session["accounts.pending_login"] = pending
    session.save()
    response = client.post(CODE, {"code": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not _signed_in(client)


@pytest.mark.django_db
def test_the_code_page_without_a_password_first_goes_to_login(client):
    response = client.get(CODE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


@pytest.mark.django_db
def test_a_backup_code_works_once(client):
    device = factories.TOTPDeviceFactory()
    codes = backup_codes_generate(user=device.user)
    login_post(client, device.user.email)
    assert client.post(CODE, {"code": codes[0].upper()}).status_code == 302
    assert _signed_in(client)
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    client.post("/accounts/logout/")
    login_post(client, device.user.email)
    assert client.post(CODE, {"code": codes[0]}).status_code == 200
    assert not _signed_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["12\x0034", "<script>", "", "x" * 40])
def test_malformed_codes_are_form_errors(client, code):
    device = factories.TOTPDeviceFactory()
    login_post(client, device.user.email)
    response = client.post(CODE, {"code": code})
    assert response.status_code == 200
    assert b"errorlist" in response.content


# --- Enrolment ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrolment_needs_a_signed_in_user(client):
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_profile_offers_2fa_to_a_clinician(client):
    client.force_login(factories.ClinicianFactory())
    response = client.get(PROFILE)
    assert response.status_code == 200
    assert ENROL.encode() in response.content


@pytest.mark.django_db
def test_enrolment_shows_a_qr_code_and_the_secret_without_inline_script_or_style(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    response = client.get(ENROL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html).group(1)
    from base64 import b32encode

    assert secret.replace(" ", "") == b32encode(device.bin_key).decode().rstrip("=")
    assert "style=" not in html
    assert "<style" not in html
    assert "<script>" not in html
    # A reload shows the same secret: a code scanned a moment ago stays valid.
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_confirming_enrolment_turns_2fa_on_and_shows_backup_codes_once(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(ENROL, {"code": totp_code(device)})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", response.content.decode())
    assert len(codes) == BACKUP_CODE_COUNT
    device.refresh_from_db()
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == set(codes)
    assert AuditEvent.objects.filter(detail__change="2fa_enabled", actor=user).exists()
    # Shown once: the profile only counts them.
    profile = client.get(PROFILE).content.decode()
    assert codes[0] not in profile
    assert "10 backup codes left" in profile


@pytest.mark.django_db
def test_a_wrong_enrolment_code_leaves_2fa_off(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    client.get(ENROL)
    response = client.post(ENROL, {"code": "123456"})
    assert response.status_code == 200
    assert b"That code is not valid" in response.content
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@pytest.mark.django_db
def test_enrolment_when_already_on_goes_back_to_the_profile(client):
    user = factories.ClinicianFactory()
    login_verified(client, user)
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"] == PROFILE


# --- Backup codes and turning 2FA off -------------------------------------------------------------


@pytest.mark.django_db
def test_new_backup_codes_replace_the_old_ones(client):
    user = factories.ClinicianFactory()
    login_verified(client, user)
    old = backup_codes_generate(user=user)
    response = client.post(BACKUP)
    assert response.status_code == 200
    new = re.findall(r"<li><code>([a-z2-7]+)</code></li>", response.content.decode())
    assert len(new) == BACKUP_CODE_COUNT
    assert not StaticToken.objects.filter(token__in=old).exists()
    assert StaticDevice.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_backup_codes_need_2fa_to_be_on(client):
    client.force_login(factories.ClinicianFactory())
    response = client.post(BACKUP)
    assert response.status_code == 302
    assert not StaticDevice.objects.exists()


@pytest.mark.django_db
def test_backup_codes_page_is_post_only_and_needs_sign_in(client):
    assert client.post(BACKUP).status_code == 302
    client.force_login(factories.ClinicianFactory())
    assert client.get(BACKUP).status_code == 405


@pytest.mark.django_db
def test_a_clinician_turns_2fa_off_with_a_current_code(client):
    user = factories.ClinicianFactory()
    device = login_verified(client, user)
    backup_codes_generate(user=user)
    response = client.post(DISABLE, {"code": totp_code(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(detail__change="2fa_disabled", actor=user).exists()


@pytest.mark.django_db
def test_turning_2fa_off_needs_a_valid_code(client):
    user = factories.ClinicianFactory()
    login_verified(client, user)
    for bad in ("000000", "", "\x00"):
        client.post(DISABLE, {"code": bad})
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@pytest.mark.django_db
def test_an_admin_cannot_turn_2fa_off(client):
    admin = factories.AdminFactory()
    device = login_verified(client, admin)
    response = client.post(DISABLE, {"code": totp_code(device)})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    assert b"Turn off" not in client.get(PROFILE).content


@pytest.mark.django_db
def test_turning_2fa_off_needs_sign_in(client):
    response = client.post(DISABLE, {"code": "123456"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Administrators must use 2FA ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "admin_factory",
    [
        factories.AdminFactory,
        factories.SuperuserFactory,
        lambda: factories.ClinicianFactory(is_staff=True),
    ],
)
def test_an_admin_without_a_device_is_sent_to_enrolment_from_everywhere(client, admin_factory):
    admin = admin_factory()
    response = login_post(client, admin.email)
    assert response.status_code == 302
    assert response["Location"] == ENROL
    for path in (PROFILE, "/admin/", "/accounts/invite/", "/patients/", "/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == ENROL, path
    api = client.get("/api/schema/")
    assert api.status_code == 403
    assert api.json()["detail"].startswith("Administrators must complete two-factor")
    fhir = client.get("/fhir/metadata")
    assert (fhir.status_code, fhir["Content-Type"]) == (403, "application/fhir+json")
    issue = fhir.json()["issue"][0]
    assert fhir.json()["resourceType"] == "OperationOutcome" and issue["code"] == "security"
    assert issue["diagnostics"].startswith("Administrators must complete two-factor")
    enrol = client.get(ENROL)
    assert enrol.status_code == 200
    assert b"Administrators must use two-factor authentication" in enrol.content
    # Signing out stays possible.
    assert client.post("/accounts/logout/").status_code == 302
    assert not _signed_in(client)


@pytest.mark.django_db
def test_after_enrolment_an_admin_reaches_the_admin_site(client):
    admin = factories.SuperuserFactory()
    login_post(client, admin.email)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=admin)
    assert client.post(ENROL, {"code": totp_code(device)}).status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get(PROFILE).status_code == 200


@pytest.mark.django_db
def test_an_unverified_admin_session_with_a_device_is_sent_to_the_code_page(client):
    admin = factories.AdminFactory()
    device = factories.TOTPDeviceFactory(user=admin)
    client.force_login(admin)  # signed in, but no code given in this session
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == CODE
    response = client.post(CODE, {"code": totp_code(device)})
    assert response.status_code == 302
    assert client.get(PROFILE).status_code == 200


@pytest.mark.django_db
def test_a_clinician_without_2fa_is_not_held_up(client):
    client.force_login(factories.ClinicianFactory())
    assert client.get(PROFILE).status_code == 200
