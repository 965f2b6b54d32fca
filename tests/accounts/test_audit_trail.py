"""The audit trail is append-only, and `manage.py audit_verify` finds any tampering with it."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, User
from tests import factories


def _events(n: int) -> list[AuditEvent]:
    actor: User = factories.ClinicianFactory()  # type: ignore[assignment]
    return [
        audit_record(actor=actor, action=AuditAction.READ, obj=actor, detail={"n": i})
        for i in range(n)
    ]


def _verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def _raw(sql: str, params: list) -> None:
    # The ORM refuses to change the trail; a tamperer would not use the ORM.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_an_intact_chain_verifies():
    _events(5)
    assert _verify().strip() == "audit chain intact: 5 events"


@pytest.mark.django_db
def test_an_empty_trail_verifies():
    assert _verify().strip() == "audit chain intact: 0 events"


@pytest.mark.django_db
def test_an_altered_detail_is_named_by_its_seq():
    events = _events(5)
    altered = events[2].seq
    _raw(
        "UPDATE accounts_auditevent SET detail = %s WHERE seq = %s",
        [json.dumps({"n": 999}), altered],
    )
    with pytest.raises(CommandError) as broken:
        _verify()
    assert broken.value.returncode == 1
    assert f"event #{altered} was altered" in str(broken.value)


@pytest.mark.django_db
def test_a_deleted_middle_row_is_named_as_missing():
    events = _events(5)
    missing = events[2].seq
    _raw("DELETE FROM accounts_auditevent WHERE seq = %s", [missing])
    with pytest.raises(CommandError) as broken:
        _verify()
    assert broken.value.returncode == 1
    assert f"event #{missing} is missing" in str(broken.value)


@pytest.mark.django_db
def test_a_deleted_last_row_is_detected():
    events = _events(5)
    last = events[-1].seq
    _raw("DELETE FROM accounts_auditevent WHERE seq = %s", [last])
    with pytest.raises(CommandError) as broken:
        _verify()
    assert broken.value.returncode == 1
    assert f"event #{last}" in str(broken.value)


@pytest.mark.django_db
def test_the_command_exits_with_status_1_from_the_command_line(capsys, monkeypatch):
    import django

    # Django is set up already; setting it up again would point the logging handlers at this
    # test's captured stderr, which is closed after the test (a later log line would then crash
    # the run once TensorFlow's absl logging is loaded).
    monkeypatch.setattr(django, "setup", lambda *args, **kwargs: None)
    events = _events(3)
    _raw("UPDATE accounts_auditevent SET outcome = %s WHERE seq = %s", ["failure", events[0].seq])
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "audit_verify"]).execute()
    assert exited.value.code == 1
    assert f"event #{events[0].seq} was altered" in capsys.readouterr().err


@pytest.mark.django_db
def test_saving_an_existing_event_raises():
    event = _events(1)[0]
    event.detail = {"n": 42}
    with pytest.raises(PermissionError):
        event.save()


@pytest.mark.django_db
def test_deleting_an_event_raises():
    event = _events(1)[0]
    with pytest.raises(PermissionError):
        event.delete()


@pytest.mark.django_db
def test_queryset_update_and_delete_raise():
    _events(2)
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(outcome="failure")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(seq__gte=1).update(detail={})
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_the_returned_event_is_the_stored_one():
    event = _events(2)[-1]
    stored = AuditEvent.objects.get(seq=event.seq)
    assert (stored.hash, stored.prev_hash, stored.detail) == (event.hash, event.prev_hash, {"n": 1})
    assert stored.prev_hash == AuditEvent.objects.get(seq=event.seq - 1).hash


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL")
def test_concurrent_appends_keep_one_unbroken_chain():
    import threading

    from django.db import connections

    actor = factories.ClinicianFactory()
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(10):
                audit_record(actor=actor, action=AuditAction.READ, detail={"t": n, "i": i})
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _verify().strip() == "audit chain intact: 60 events"
