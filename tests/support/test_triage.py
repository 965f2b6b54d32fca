"""Triage: an administrator answers in Django admin (or the portal) and moves the ticket; the
owner is told in the bell and reads the reply in the portal; the owner's reply reopens a ticket
waiting for them; the admin actions go through the services."""

import pytest
from django.urls import reverse

from accounts.models import Notification
from support.models import Ticket, TicketReply
from support.services import ticket_reply, ticket_set_status
from tests.support.conftest import ticket_make

pytestmark = pytest.mark.django_db

CHANGE = "/admin/support/ticket/{}/change/"
CHANGELIST = "/admin/support/ticket/"


@pytest.fixture
def ticket(clinician):
    return ticket_make(clinician, subject="Patient Jane Doe's export fails")


def _change_form(ticket, **extra):
    data = {
        "status": ticket.status,
        "assignee": "",
        "replies-TOTAL_FORMS": "1",
        "replies-INITIAL_FORMS": "0",
        "replies-MIN_NUM_FORMS": "0",
        "replies-MAX_NUM_FORMS": "1000",
        "replies-0-body": "",
        "_save": "Save",
    }
    data.update(extra)
    return data


def test_a_reply_from_django_admin_notifies_the_owner_and_shows_in_the_portal(
    admin_client, client, clinician, ticket, support_admin
):
    page = admin_client.get(CHANGE.format(ticket.pk))
    assert page.status_code == 200
    assert b"export fails" in page.content
    response = admin_client.post(
        CHANGE.format(ticket.pk),
        _change_form(ticket, **{"replies-0-body": "Fixed: try again now.", "status": "waiting"}),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    reply = TicketReply.objects.get()
    assert reply.author == support_admin and not reply.is_internal
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING
    notices = list(Notification.objects.filter(user=clinician).order_by("created_at"))
    assert len(notices) == 2  # the status and the reply
    assert all(n.url == reverse("support:ticket", args=[ticket.public_id]) for n in notices)
    assert all("Jane" not in n.message and ticket.reference in n.message for n in notices)
    client.force_login(clinician)
    listing = client.get(reverse("support:tickets")).content.decode()
    assert "new reply" in listing
    bell = client.get(reverse("accounts:notification_bell")).content.decode()
    assert "2 unread" in bell
    detail = client.get(reverse("support:ticket", args=[ticket.public_id])).content.decode()
    assert "Fixed: try again now." in detail
    # Opening the ticket clears its mark and its notices.
    assert "new reply" not in client.get(reverse("support:tickets")).content.decode()
    assert not Notification.objects.filter(user=clinician, read_at__isnull=True).exists()


def test_an_internal_note_from_admin_does_not_notify_the_owner(admin_client, clinician, ticket):
    admin_client.post(
        CHANGE.format(ticket.pk),
        _change_form(ticket, **{"replies-0-body": "Checking logs", "replies-0-is_internal": "on"}),
    )
    assert TicketReply.objects.get().is_internal
    assert not Notification.objects.filter(user=clinician).exists()


def test_the_owners_reply_reopens_a_ticket_waiting_for_them_and_a_closed_one_takes_none(
    client, clinician, ticket, support_admin
):
    ticket_set_status(by=support_admin, ticket=ticket, status=Ticket.Status.WAITING)
    client.force_login(clinician)
    url = reverse("support:ticket_reply", args=[ticket.public_id])
    assert client.post(url, {"body": "Still failing."}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    ticket_set_status(by=support_admin, ticket=ticket, status=Ticket.Status.CLOSED)
    refused = client.post(url, {"body": "Again?"})
    assert refused.status_code == 400
    assert TicketReply.objects.count() == 1


def test_the_owner_replying_notifies_the_assignee(clinician, ticket, support_admin):
    from support.services import ticket_assign

    ticket_assign(by=support_admin, ticket=ticket, assignee=support_admin)
    ticket_reply(by=clinician, ticket=ticket, body="More details: it is the CSV.")
    assert Notification.objects.filter(user=support_admin).count() == 1
    assert not Notification.objects.filter(user=clinician).exists()


def test_admin_actions_assign_and_move_through_the_services(
    admin_client, clinician, ticket, support_admin
):
    listing = admin_client.get(CHANGELIST, {"q": "export"})
    assert ticket.reference.encode() in listing.content
    admin_client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [ticket.pk]})
    admin_client.post(CHANGELIST, {"action": "mark_resolved", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.assignee == support_admin
    assert ticket.status == Ticket.Status.RESOLVED and ticket.resolved_at is not None
    assert Notification.objects.filter(user=clinician).count() == 1


def test_django_admin_is_for_portal_administrators(client, clinician, ticket):
    client.force_login(clinician)
    assert client.get(CHANGE.format(ticket.pk)).status_code in (302, 403)


def test_an_administrator_replies_in_the_portal_too(admin_client, clinician, ticket):
    url = reverse("support:ticket_reply", args=[ticket.public_id])
    assert admin_client.post(url, {"body": "On it."}).status_code == 302
    assert Notification.objects.filter(user=clinician).count() == 1
    status = reverse("support:ticket_status", args=[ticket.public_id])
    assert admin_client.post(status, {"status": "in_progress"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.IN_PROGRESS
