"""Joining: an administrator's invitation by email link, self-registration, and approval."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, Invitation, Role, User
from accounts.services import (
    AccountError,
    EmailAlreadyRegistered,
    InvitationNotUsable,
    invitation_accept,
    invitation_create,
    user_approve,
    user_register,
    user_reject,
)
from tests import factories
from tests.accounts.helpers import login_post, login_verified

INVITE = "/accounts/invite/"
REGISTER = "/accounts/register/"
PENDING = "/accounts/pending/"
NEW_PASSWORD = "a-long-and-unusual-passphrase-77"


def _link_from(mail) -> str:
    match = re.search(r"http://testserver(/accounts/invite/[\w-]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


@pytest.fixture
def invite(mailoutbox, django_capture_on_commit_callbacks):
    """invite(admin, email=..., role=...) -> (invitation, the path of the link in its email)."""

    def make(admin, email="new.person@hospital.test", role=Role.NURSE):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = invitation_create(
                by=admin, email=email, role=role, base_url="http://testserver/"
            )
        return invitation, _link_from(mailoutbox[-1])

    return make


def _token(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


# --- Invitations ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_cannot_open_the_invite_page(client):
    response = client.get(INVITE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_non_admins_get_403_on_the_invite_page_and_it_is_audited(client):
    client.force_login(factories.ClinicianFactory())
    assert client.get(INVITE).status_code == 403
    assert client.post(INVITE, {"email": "x@hospital.test", "role": "nurse"}).status_code == 403
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() == 2


@pytest.mark.django_db
def test_an_admin_invites_by_email_and_only_the_token_digest_is_stored(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    admin = factories.AdminFactory()
    login_verified(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(INVITE, {"email": " New.Nurse@Hospital.test ", "role": "nurse"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.nurse@hospital.test"
    assert invitation.role == Role.NURSE
    assert invitation.created_by == admin
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.nurse@hospital.test"]
    token = _token(_link_from(mailoutbox[0]))
    assert invitation.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.values().get())
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="accounts.invitation")
    assert token not in str(event.detail)
    assert "new.nurse" not in str(event.detail)


@pytest.mark.django_db
def test_the_invite_page_lists_invitations(client, invite):
    admin = factories.AdminFactory()
    invite(admin, email="listed@hospital.test")
    login_verified(client, admin)
    response = client.get(INVITE)
    assert response.status_code == 200
    assert b"listed@hospital.test" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-email", "role": "nurse"},
        {"email": "a\x00b@hospital.test", "role": "nurse"},
        {"email": "ok@hospital.test", "role": "surgeon-general"},
        {},
    ],
)
def test_bad_invitation_input_is_a_field_error(client, data):
    login_verified(client, factories.AdminFactory())
    response = client.post(INVITE, data)
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_inviting_an_existing_user_is_refused(client):
    existing = factories.ClinicianFactory()
    login_verified(client, factories.AdminFactory())
    response = client.post(INVITE, {"email": existing.email, "role": "nurse"})
    assert response.status_code == 200
    assert b"already exists" in response.content


@pytest.mark.django_db
def test_accepting_an_invitation_creates_an_active_approved_user_with_the_role(client, invite):
    admin = factories.AdminFactory()
    invitation, link = invite(admin, role=Role.RADIOLOGIST)
    assert client.get(link).status_code == 200
    response = client.post(
        link, {"full_name": "Rae Diologist", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    user = User.objects.get(email=invitation.email)
    assert user.is_active and user.approved_at is not None and user.approved_by == admin
    assert user.role == Role.RADIOLOGIST
    assert list(user.groups.values_list("name", flat=True)) == ["role:radiologist"]
    invitation.refresh_from_db()
    assert invitation.accepted_user == user and invitation.accepted_at is not None
    assert AuditEvent.objects.filter(object_id=str(user.public_id), detail__via="invitation")
    assert login_post(client, user.email, NEW_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_used_invitation_link_says_so(client, invite):
    _, link = invite(factories.AdminFactory())
    data = {"full_name": "First Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    client.post(link, data)
    response = client.get(link)
    assert response.status_code == 410
    assert b"already been used" in response.content
    assert client.post(link, data).status_code == 410
    assert User.objects.filter(full_name="First Person").count() == 1


@pytest.mark.django_db
def test_an_expired_invitation_link_says_so(client, invite):
    invitation, link = invite(factories.AdminFactory())
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = client.get(link)
    assert response.status_code == 410
    assert b"expired" in response.content


@pytest.mark.django_db
def test_an_unknown_invitation_link_is_404(client):
    response = client.get("/accounts/invite/not-a-real-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"full_name": "A B", "password1": "short", "password2": "short"}, b"too short"),
        (
            {"full_name": "A B", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
            b"differ",
        ),
        (
            {"full_name": "A B", "password1": "123456789012345", "password2": "123456789012345"},
            b"numeric",
        ),
        ({"full_name": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, b"required"),
        ({"full_name": "A\x00B", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, b"Null"),
    ],
)
def test_bad_input_on_the_invitation_page_is_a_field_error(client, data, message, invite):
    invitation, link = invite(factories.AdminFactory())
    response = client.post(link, data)
    assert response.status_code == 200
    assert message in response.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.django_db
def test_the_password_may_not_resemble_the_email(client, invite):
    _, link = invite(factories.AdminFactory(), email="mariaconstantinou@hospital.test")
    response = client.post(
        link,
        {"full_name": "M C", "password1": "mariaconstantinou", "password2": "mariaconstantinou"},
    )
    assert b"too similar" in response.content


@pytest.mark.django_db
def test_invitation_accept_service_refuses_reuse(invite):
    _, link = invite(factories.AdminFactory())
    token = _token(link)
    invitation_accept(token=token, full_name="One", password=NEW_PASSWORD)
    with pytest.raises(InvitationNotUsable) as refused:
        invitation_accept(token=token, full_name="Two", password=NEW_PASSWORD)
    assert refused.value.reason == "used"


@pytest.mark.django_db
def test_an_invited_admin_must_enrol_2fa_at_first_sign_in(client, invite):
    _, link = invite(factories.AdminFactory(), email="boss@hospital.test", role=Role.ADMIN)
    token = _token(link)
    invitation_accept(token=token, full_name="The Boss", password=NEW_PASSWORD)
    response = login_post(client, "boss@hospital.test", NEW_PASSWORD)
    assert response["Location"] == "/accounts/profile/2fa/enrol/"


# --- Self-registration ----------------------------------------------------------------------------


def _registration(**overrides: str) -> dict[str, str]:
    return {
        "full_name": "Nina Nurse",
        "email": "nina@hospital.test",
        "role": "nurse",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }


@pytest.mark.django_db
def test_self_registration_creates_an_inactive_unapproved_user(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    admin = factories.AdminFactory()
    assert client.get(REGISTER).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER, _registration())
    assert response.status_code == 200
    assert b"Request received" in response.content
    user = User.objects.get(email="nina@hospital.test")
    assert not user.is_active and user.approved_at is None and user.is_awaiting_approval
    assert user.role == Role.NURSE
    assert user.check_password(NEW_PASSWORD)
    assert [m.to for m in mailoutbox] == [[admin.email]]
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(user.public_id), detail__via="self_registration"
    ).exists()


@pytest.mark.django_db
def test_an_unapproved_user_cannot_sign_in(client):
    client.post(REGISTER, _registration())
    response = login_post(client, "nina@hospital.test", NEW_PASSWORD)
    assert b"waiting for an administrator&#x27;s approval" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_registering_a_taken_address_looks_the_same_and_changes_nothing(client):
    existing = factories.ClinicianFactory(email="taken@hospital.test")
    response = client.post(REGISTER, _registration(email="Taken@hospital.test"))
    assert response.status_code == 200
    assert b"Request received" in response.content
    existing.refresh_from_db()
    assert existing.is_active and existing.full_name != "Nina Nurse"
    assert User.objects.filter(email="taken@hospital.test").count() == 1


@pytest.mark.django_db
def test_nobody_can_register_as_admin(client):
    response = client.post(REGISTER, _registration(role="admin"))
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(email="nina@hospital.test").exists()
    with pytest.raises(ValueError):
        user_register(email="x@h.test", full_name="X", role=Role.ADMIN, password=NEW_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "nina\x00@hospital.test"},
        {"password1": "pass\x00word-that-is-long", "password2": "pass\x00word-that-is-long"},
        {"email": "nope"},
        {"password1": "short", "password2": "short"},
        {"password2": "something-else-entirely"},
        {"full_name": ""},
        {"role": ""},
    ],
)
def test_bad_registration_input_is_a_field_error(client, overrides):
    response = client.post(REGISTER, _registration(**overrides))
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(full_name="Nina Nurse").exists()


@pytest.mark.django_db
def test_a_signed_in_user_is_sent_from_registration_to_the_profile(client):
    client.force_login(factories.ClinicianFactory())
    assert client.get(REGISTER)["Location"] == "/accounts/profile/"


@pytest.mark.django_db
def test_register_service_refuses_a_taken_address():
    factories.ClinicianFactory(email="dup@hospital.test")
    with pytest.raises(EmailAlreadyRegistered):
        user_register(
            email="DUP@hospital.test", full_name="D", role=Role.NURSE, password=NEW_PASSWORD
        )


# --- Approval -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_cannot_see_pending_registrations(client):
    response = client.get(PENDING)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_anonymous_visitors_cannot_approve_or_reject(client):
    pending = factories.PendingUserFactory()
    for verb in ("approve", "reject"):
        response = client.post(f"/accounts/users/{pending.public_id}/{verb}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    pending.refresh_from_db()
    assert pending.is_awaiting_approval


@pytest.mark.django_db
def test_an_email_that_cannot_be_sent_does_not_break_the_invitation(
    client, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("accounts.services.registration.send_mail", refuse)
    login_verified(client, factories.AdminFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(INVITE, {"email": "someone@hospital.test", "role": "nurse"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert f"invitation {invitation.public_id}" in caplog.text
    assert "someone@hospital.test" not in caplog.text


@pytest.mark.django_db
def test_non_admins_get_403_on_the_approval_pages(client):
    pending = factories.PendingUserFactory()
    client.force_login(factories.NurseFactory())
    assert client.get(PENDING).status_code == 403
    assert client.post(f"/accounts/users/{pending.public_id}/approve/").status_code == 403
    assert client.post(f"/accounts/users/{pending.public_id}/reject/").status_code == 403
    pending.refresh_from_db()
    assert pending.is_awaiting_approval


@pytest.mark.django_db
def test_an_admin_sees_pending_registrations(client):
    pending = factories.PendingUserFactory()
    approved = factories.ClinicianFactory()
    login_verified(client, factories.AdminFactory())
    response = client.get(PENDING)
    assert response.status_code == 200
    assert pending.email.encode() in response.content
    assert approved.email.encode() not in response.content


@pytest.mark.django_db
def test_approving_lets_the_user_in(client, mailoutbox, django_capture_on_commit_callbacks):
    pending = factories.PendingUserFactory(role=Role.RESEARCHER)
    admin = factories.AdminFactory()
    login_verified(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/accounts/users/{pending.public_id}/approve/")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.is_active and pending.approved_by == admin and pending.approved_at
    assert pending.groups.filter(name="role:researcher").exists()
    assert mailoutbox[-1].to == [pending.email]
    assert AuditEvent.objects.filter(
        actor=admin, object_id=str(pending.public_id), detail__change="approved"
    ).exists()
    client.post("/accounts/logout/")
    assert login_post(client, pending.email).status_code == 302


@pytest.mark.django_db
def test_approve_and_reject_are_post_only(client):
    pending = factories.PendingUserFactory()
    login_verified(client, factories.AdminFactory())
    assert client.get(f"/accounts/users/{pending.public_id}/approve/").status_code == 405
    assert client.get(f"/accounts/users/{pending.public_id}/reject/").status_code == 405


@pytest.mark.django_db
def test_rejecting_removes_the_registration(client):
    pending = factories.PendingUserFactory()
    admin = factories.AdminFactory()
    login_verified(client, admin)
    response = client.post(f"/accounts/users/{pending.public_id}/reject/")
    assert response.status_code == 302
    assert not User.objects.filter(pk=pending.pk).exists()
    assert AuditEvent.objects.filter(
        actor=admin, action=AuditAction.DELETE, object_id=str(pending.public_id)
    ).exists()


@pytest.mark.django_db
def test_an_approved_user_cannot_be_rejected_or_approved_again(client):
    active = factories.ClinicianFactory()
    admin = factories.AdminFactory()
    with pytest.raises(AccountError):
        user_reject(user=active, by=admin)
    with pytest.raises(AccountError):
        user_approve(user=active, by=admin)
    login_verified(client, admin)
    response = client.post(f"/accounts/users/{active.public_id}/reject/", follow=True)
    assert b"not waiting for approval" in response.content
    assert User.objects.filter(pk=active.pk, is_active=True).exists()


@pytest.mark.django_db
def test_approving_an_unknown_user_is_404(client):
    login_verified(client, factories.AdminFactory())
    url = "/accounts/users/00000000-0000-0000-0000-000000000000/approve/"
    assert client.post(url).status_code == 404


@pytest.mark.django_db
def test_a_role_group_exists_for_every_role():
    user = factories.PendingUserFactory(role=Role.NURSE)
    user_approve(user=user, by=factories.AdminFactory())
    assert set(Group.objects.filter(name__startswith="role:").values_list("name", flat=True)) >= {
        f"role:{role.value}" for role in Role
    }
