"""Django admin: reached only with a verified second factor; roles change through user_set_role;
the audit trail is read-only for everyone."""

import pytest

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, Invitation, Role, User
from accounts.services import invitation_create
from tests import factories
from tests.accounts.helpers import login_verified

USERS = "/admin/accounts/user/"
EVENTS = "/admin/accounts/auditevent/"


@pytest.fixture
def superuser_client(client):
    login_verified(client, factories.SuperuserFactory())
    return client


# --- Who gets in ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_portal_login(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/admin/"
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_signed_in_non_staff_user_gets_403(client):
    client.force_login(factories.ClinicianFactory())
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


@pytest.mark.django_db
def test_staff_without_a_verified_session_do_not_get_in(client):
    admin = factories.AdminFactory()
    factories.TOTPDeviceFactory(user=admin)
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/"


@pytest.mark.django_db
def test_otp_admin_site_refuses_an_unverified_staff_user_even_without_the_middleware(
    client, settings
):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "accounts.middleware.AdminTwoFactorMiddleware"
    ]
    client.force_login(factories.SuperuserFactory())
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_verified_admin_gets_in(superuser_client):
    assert superuser_client.get("/admin/").status_code == 200


# --- Users ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_user_list_searches_and_filters(superuser_client):
    factories.NurseFactory(email="findme@hospital.test", full_name="Findable Nurse")
    factories.PendingUserFactory(email="waiting@hospital.test")
    response = superuser_client.get(USERS, {"q": "findme"})
    assert response.status_code == 200
    assert b"findme@hospital.test" in response.content
    for query in (
        {"role__exact": "nurse"},
        {"is_active__exact": "1"},
        {"approved": "no"},
        {"approved": "yes"},
        {"q": "Findable"},
    ):
        assert superuser_client.get(USERS, query).status_code == 200, query
    waiting = superuser_client.get(USERS, {"approved": "no"}).content
    assert b"waiting@hospital.test" in waiting
    assert b"findme@hospital.test" not in waiting


@pytest.mark.django_db
def test_changing_a_role_in_admin_moves_the_group_and_is_audited(superuser_client):
    user = factories.ClinicianFactory()
    response = superuser_client.post(
        f"{USERS}{user.pk}/change/",
        {
            "email": user.email,
            "full_name": user.full_name,
            "role": Role.RADIOLOGIST,
            "is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert user.role == Role.RADIOLOGIST
    assert list(user.groups.values_list("name", flat=True)) == ["role:radiologist"]
    event = AuditEvent.objects.get(object_id=str(user.public_id), detail__change="role")
    assert event.detail["from"] == "clinician" and event.detail["to"] == "radiologist"


@pytest.mark.django_db
def test_a_user_added_in_admin_is_approved_and_in_the_role_group(superuser_client):
    response = superuser_client.post(
        f"{USERS}add/",
        {
            "email": "Added@Hospital.test",
            "full_name": "Added Person",
            "role": Role.NURSE,
            "usable_password": "true",
            "password1": "a-long-and-unusual-passphrase-77",
            "password2": "a-long-and-unusual-passphrase-77",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="added@hospital.test")
    assert user.approved_at is not None and user.is_active
    assert list(user.groups.values_list("name", flat=True)) == ["role:nurse"]
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(user.public_id), detail__via="django_admin"
    ).exists()


@pytest.mark.django_db
def test_the_approve_action_approves_pending_registrations(superuser_client):
    pending = factories.PendingUserFactory()
    active = factories.ClinicianFactory()
    response = superuser_client.post(
        USERS,
        {"action": "approve_registrations", "_selected_action": [pending.pk, active.pk]},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.is_active and pending.approved_at is not None
    assert AuditEvent.objects.filter(detail__change="approved").count() == 1


@pytest.mark.django_db
def test_the_reject_action_deletes_only_pending_registrations(superuser_client):
    pending = factories.PendingUserFactory()
    active = factories.ClinicianFactory()
    superuser_client.post(
        USERS, {"action": "reject_registrations", "_selected_action": [pending.pk, active.pk]}
    )
    assert not User.objects.filter(pk=pending.pk).exists()
    assert User.objects.filter(pk=active.pk).exists()


# --- Invitations and the audit trail --------------------------------------------------------------


@pytest.mark.django_db
def test_the_invitation_admin_never_shows_the_token_hash(superuser_client):
    invitation = invitation_create(
        by=factories.AdminFactory(), email="x@hospital.test", role=Role.NURSE, base_url=""
    )
    listing = superuser_client.get("/admin/accounts/invitation/")
    detail = superuser_client.get(f"/admin/accounts/invitation/{invitation.pk}/change/")
    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing, detail):
        assert invitation.token_sha256.encode() not in page.content
    assert superuser_client.get("/admin/accounts/invitation/add/").status_code == 403
    assert Invitation.objects.count() == 1


@pytest.mark.django_db
def test_admins_read_the_audit_trail_with_filters(client):
    admin = factories.AdminFactory()  # a portal admin: view permission through the role group
    login_verified(client, admin)
    event = audit_record(actor=admin, action=AuditAction.EXPORT, object_id="abc-123")
    for query in (
        {},
        {"action__exact": "export"},
        {"outcome__exact": "success"},
        {"at__gte": "2000-01-01 00:00:00+00:00"},
        {"q": "abc-123"},
    ):
        response = client.get(EVENTS, query)
        assert response.status_code == 200, query
    assert b"abc-123" in client.get(EVENTS, {"q": "abc-123"}).content
    assert client.get(f"{EVENTS}{event.seq}/change/").status_code == 200


@pytest.mark.django_db
def test_a_clinician_cannot_read_the_audit_trail(client):
    staff = factories.ClinicianFactory(is_staff=True)  # staff, but without the permission
    login_verified(client, staff)
    assert client.get(EVENTS).status_code == 403


@pytest.mark.django_db
def test_nobody_adds_changes_or_deletes_audit_events_even_a_superuser(superuser_client):
    event = audit_record(actor=None, action=AuditAction.READ, object_id="keep-me")
    before = AuditEvent.objects.count()
    assert superuser_client.get(f"{EVENTS}add/").status_code == 403
    assert superuser_client.post(f"{EVENTS}add/", {"action": "read"}).status_code == 403
    assert (
        superuser_client.post(
            f"{EVENTS}{event.seq}/change/", {"action": "delete", "outcome": "success"}
        ).status_code
        == 403
    )
    assert superuser_client.post(f"{EVENTS}{event.seq}/delete/", {"post": "yes"}).status_code == 403
    # The bulk delete action is not offered, and posting it anyway deletes nothing.
    superuser_client.post(
        EVENTS, {"action": "delete_selected", "_selected_action": [event.seq], "post": "yes"}
    )
    assert b"delete_selected" not in superuser_client.get(EVENTS).content
    assert AuditEvent.objects.filter(seq=event.seq, object_id="keep-me").exists()
    assert AuditEvent.objects.count() >= before


@pytest.mark.django_db
def test_the_chain_head_is_not_in_admin(superuser_client):
    audit_record(actor=None, action=AuditAction.READ)
    assert superuser_client.get("/admin/accounts/auditchainhead/").status_code == 404


@pytest.mark.django_db
def test_a_password_set_in_admin_is_audited(superuser_client):
    user = factories.ClinicianFactory()
    new = "another-long-unusual-passphrase-31"
    response = superuser_client.post(
        f"{USERS}{user.pk}/password/",
        {"usable_password": "true", "password1": new, "password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    event = AuditEvent.objects.get(object_id=str(user.public_id), detail__fields=["password"])
    assert new not in str(event.detail)


@pytest.mark.django_db
def test_deleting_a_user_in_admin_is_audited(superuser_client):
    user = factories.ClinicianFactory()
    public_id = str(user.public_id)
    response = superuser_client.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, object_id=public_id).exists()
