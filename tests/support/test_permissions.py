"""Who sees which tickets: a user their own, an administrator all; another user's ticket is a
404 (page, screenshot, reply, status and API alike), an anonymous visitor is sent to sign in (the
API: 401); internal notes never reach the ticket's owner."""

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from support.models import Ticket
from support.services import ticket_reply
from tests import factories
from tests.support.conftest import ticket_make

pytestmark = pytest.mark.django_db

API = "/api/v1/support/tickets/"


@pytest.fixture
def mine(clinician):
    return ticket_make(clinician, subject="My printer question")


@pytest.fixture
def theirs(other_clinician):
    return ticket_make(other_clinician, subject="Somebody else's question")


def test_a_user_lists_only_their_own_tickets_on_the_page_and_in_the_api(
    client, clinician, mine, theirs
):
    client.force_login(clinician)
    page = client.get(reverse("support:tickets"))
    assert page.status_code == 200
    assert b"My printer question" in page.content
    assert b"Somebody else" not in page.content
    listed = client.get(API).json()
    assert [t["public_id"] for t in listed["results"]] == [str(mine.public_id)]


def test_an_administrator_lists_every_ticket_and_filters_by_status(
    admin_client, mine, theirs, support_admin
):
    page = admin_client.get(reverse("support:tickets"))
    assert b"My printer question" in page.content
    assert b"Somebody else" in page.content
    Ticket.objects.filter(pk=theirs.pk).update(status=Ticket.Status.CLOSED)
    open_only = admin_client.get(reverse("support:tickets"), {"status": "active"})
    assert b"My printer question" in open_only.content
    assert b"Somebody else" not in open_only.content
    listed = admin_client.get(API).json()
    assert {t["public_id"] for t in listed["results"]} == {
        str(mine.public_id),
        str(theirs.public_id),
    }
    closed = admin_client.get(API, {"status": "closed"}).json()
    assert [t["public_id"] for t in closed["results"]] == [str(theirs.public_id)]


def test_another_users_ticket_is_a_404_everywhere(client, clinician, theirs, png):
    client.force_login(clinician)
    pid = theirs.public_id
    for url in (
        reverse("support:ticket", args=[pid]),
        reverse("support:ticket_screenshot", args=[pid]),
        f"{API}{pid}/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("support:ticket_reply", args=[pid]),
        reverse("support:ticket_status", args=[pid]),
    ):
        assert client.post(url, {"body": "hello", "status": "closed"}).status_code == 404, url
    assert (
        client.post(f"{API}{pid}/replies/", {"body": "hi"}, "application/json").status_code == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == Ticket.Status.OPEN
    assert not theirs.replies.exists()
    denials = AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_type="support.ticket", object_id=str(pid)
    )
    assert denials.count() == 6


def test_an_unknown_ticket_answers_like_another_users(client, clinician, theirs):
    client.force_login(clinician)
    unknown = client.get(reverse("support:ticket", args=["00000000-0000-0000-0000-000000000000"]))
    other = client.get(reverse("support:ticket", args=[theirs.public_id]))
    assert unknown.status_code == other.status_code == 404


def test_the_owner_and_an_administrator_open_the_ticket(client, clinician, mine, admin_client):
    client.force_login(clinician)
    assert client.get(reverse("support:ticket", args=[mine.public_id])).status_code == 200
    assert client.get(f"{API}{mine.public_id}/").status_code == 200
    assert admin_client.get(reverse("support:ticket", args=[mine.public_id])).status_code == 200
    assert admin_client.get(f"{API}{mine.public_id}/").status_code == 200


def test_anonymous_visitors_sign_in_first_and_the_api_answers_401(client, mine):
    for url in (
        reverse("support:tickets"),
        reverse("support:ticket_new"),
        reverse("support:ticket", args=[mine.public_id]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.get(API).status_code == 401
    assert client.get(f"{API}{mine.public_id}/").status_code == 401


def test_internal_notes_are_for_administrators_only(
    client, clinician, mine, support_admin, admin_client
):
    ticket_reply(by=support_admin, ticket=mine, body="Looks like the CSV role issue", internal=True)
    ticket_reply(by=support_admin, ticket=mine, body="The export is under Patients > Export.")
    client.force_login(clinician)
    page = client.get(reverse("support:ticket", args=[mine.public_id])).content.decode()
    assert "under Patients" in page
    assert "CSV role issue" not in page
    api = client.get(f"{API}{mine.public_id}/").json()
    assert [r["body"] for r in api["replies"]] == ["The export is under Patients > Export."]
    admin_page = admin_client.get(reverse("support:ticket", args=[mine.public_id])).content
    assert b"CSV role issue" in admin_page


def test_a_user_may_not_write_an_internal_note_or_move_a_ticket_but_may_resolve_it(
    client, clinician, mine
):
    client.force_login(clinician)
    note = client.post(
        f"{API}{mine.public_id}/replies/", {"body": "x", "internal": True}, "application/json"
    )
    assert note.status_code == 403
    moved = client.post(
        reverse("support:ticket_status", args=[mine.public_id]), {"status": "closed"}
    )
    assert moved.status_code == 403
    resolved = client.post(
        reverse("support:ticket_status", args=[mine.public_id]), {"status": "resolved"}
    )
    assert resolved.status_code == 302
    mine.refresh_from_db()
    assert mine.status == Ticket.Status.RESOLVED


def test_the_api_refuses_unknown_fields(client, clinician):
    client.force_login(clinician)
    response = client.post(
        API,
        {"category": "question", "subject": "s", "description": "d", "status": "closed"},
        "application/json",
    )
    assert response.status_code == 400
    assert "status" in response.json()
    assert not Ticket.objects.exists()


def test_a_researcher_opens_tickets_but_sees_no_patient_to_attach(client):
    researcher = factories.ResearcherFactory()
    client.force_login(researcher)
    page = client.get(reverse("support:ticket_new"))
    assert page.status_code == 200
    assert page.context["form"].fields["patient"].choices == [("", "No patient")]
    created = client.post(
        API, {"category": "question", "subject": "s", "description": "d"}, "application/json"
    )
    assert created.status_code == 201


def test_the_owner_may_not_resolve_a_closed_ticket(client, clinician, mine, support_admin):
    from support.services import ticket_set_status

    ticket_set_status(by=support_admin, ticket=mine, status=Ticket.Status.CLOSED)
    client.force_login(clinician)
    url = reverse("support:ticket_status", args=[mine.public_id])
    assert client.post(url, {"status": "resolved"}).status_code == 403
