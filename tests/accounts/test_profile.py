"""The profile page: name, role, 2FA status, and API tokens shown once."""

import re

import pytest
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import AuditAction, AuditEvent
from tests import factories
from tests.accounts.helpers import login_verified

PROFILE = "/accounts/profile/"
TOKEN = "/accounts/profile/api-token/"
REVOKE = "/accounts/profile/api-token/revoke/"


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"


@pytest.mark.django_db
def test_the_profile_shows_name_role_and_2fa_status(client):
    user = factories.NurseFactory(full_name="Nora Nightingale")
    client.force_login(user)
    response = client.get(PROFILE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nora Nightingale" in html
    assert "Nurse" in html
    assert "Off</span>" in html
    assert "style=" not in html and "<script>" not in html
    # Administration links are for administrators only.
    assert "/accounts/invite/" not in html


@pytest.mark.django_db
def test_an_admin_profile_links_the_administration_pages(client):
    login_verified(client, factories.AdminFactory())
    html = client.get(PROFILE).content.decode()
    assert "/accounts/invite/" in html and "/accounts/pending/" in html
    assert "On</span>" in html
    assert "cannot be turned off" in html


@pytest.mark.django_db
def test_a_user_corrects_their_name(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    response = client.post(PROFILE, {"full_name": "  Dr Corrected Name "})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "Dr Corrected Name"
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, actor=user)
    assert event.detail["fields"] == ["full_name"]
    assert "Corrected" not in str(event.detail)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "x" * 151, "Bad\x00Name"])
def test_a_bad_name_is_a_field_error(client, name):
    user = factories.ClinicianFactory(full_name="Kept Name")
    client.force_login(user)
    response = client.post(PROFILE, {"full_name": name})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    user.refresh_from_db()
    assert user.full_name == "Kept Name"


@pytest.mark.django_db
def test_creating_an_api_token_shows_its_key_once(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    response = client.post(TOKEN)
    assert response.status_code == 200
    key = re.search(r'<code class="token-key">([0-9a-f]{40})</code>', response.content.decode())
    assert key is not None
    assert Token.objects.get(user=user).key == key.group(1)
    assert key.group(1) not in client.get(PROFILE).content.decode()
    event = AuditEvent.objects.get(detail__change="api_token_created")
    assert key.group(1) not in str(event.detail)


@pytest.mark.django_db
def test_the_new_key_authenticates_and_replacing_it_kills_the_old_one(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    client.post(TOKEN)
    first = Token.objects.get(user=user).key
    client.post(TOKEN)
    second = Token.objects.get(user=user).key
    assert first != second
    assert Token.objects.filter(user=user).count() == 1
    assert TokenAuthentication().authenticate_credentials(second)[0] == user
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials(first)


@pytest.mark.django_db
def test_revoking_the_token_deletes_it(client):
    user = factories.ClinicianFactory()
    client.force_login(user)
    client.post(TOKEN)
    response = client.post(REVOKE)
    assert response.status_code == 302
    assert not Token.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(detail__change="api_token_revoked", actor=user).exists()
    # Revoking again is harmless.
    assert client.post(REVOKE).status_code == 302


@pytest.mark.django_db
def test_token_pages_are_post_only_and_need_sign_in(client):
    assert client.post(TOKEN)["Location"].startswith("/accounts/login/")
    assert client.post(REVOKE)["Location"].startswith("/accounts/login/")
    assert not Token.objects.exists()
    client.force_login(factories.ClinicianFactory())
    assert client.get(TOKEN).status_code == 405
    assert client.get(REVOKE).status_code == 405
