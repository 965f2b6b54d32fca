"""Key rotation drill: write under key A, rotate to B while A still decrypts, drop A, read every
row; `--check` tells when it is safe to drop A; the run is resumable and audited."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import AuditEvent
from patients.crypto import PhiKeyRing, key_ring
from patients.management.commands.rotate_phi_key import encrypted_fields
from patients.models import Patient
from patients.selectors import patient_search
from tests.factories import ClinicianFactory, care_team_make, patient_make
from tests.patients.test_crypto import PHI_FIELDS, fernet_key, raw_column, raw_column_write


def _snapshot() -> dict[int, dict[str, object]]:
    return {p.pk: {name: getattr(p, name) for name in PHI_FIELDS} for p in Patient.objects.all()}


def _check_exit_code(**options) -> int:
    try:
        call_command("rotate_phi_key", "--check", stdout=StringIO(), **options)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _patients(count: int) -> list[Patient]:
    team = care_team_make()
    return [
        patient_make(
            team=team,
            mrn=f"ROT-{n:04d}",
            phone=f"+44 7700 900{n:03d}",
            email=f"rot{n}@example.org",
            address=f"{n} Rotation Road\nKeytown",
        )
        for n in range(count)
    ]


@pytest.mark.django_db
def test_rotation_drill_from_key_a_to_key_b():
    key_a, key_b = fernet_key(), fernet_key()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        _patients(23)
        expected = _snapshot()
        updated_at = dict(Patient.objects.values_list("pk", "updated_at"))
        assert _check_exit_code() == 0  # one key: everything is on the newest

    with override_settings(PHI_ENCRYPTION_KEYS=[key_b, key_a]):
        assert _check_exit_code() == 1
        out = StringIO()
        call_command("rotate_phi_key", "--batch-size", "7", stdout=out)
        assert "patients.patient: 23 rows, 23 re-encrypted (184 values), 0 already" in (
            out.getvalue()
        )
        assert _check_exit_code() == 0

    with override_settings(PHI_ENCRYPTION_KEYS=[key_b]):
        assert _snapshot() == expected  # 100 % of rows and fields, with key A gone
        assert _check_exit_code() == 0
        # One layer of encryption under B, holding the same JSON as before.
        for pk, values in expected.items():
            plaintext, index = PhiKeyRing([key_b]).decrypt(raw_column(pk, "given_name"))
            assert (json.loads(plaintext), index) == (values["given_name"], 0)
    # Re-encryption is not an edit of the record.
    assert dict(Patient.objects.values_list("pk", "updated_at")) == updated_at


@pytest.mark.django_db
def test_rotation_keeps_search_working_and_is_audited_with_counts_only():
    key_a, key_b = fernet_key(), fernet_key()
    clinician = ClinicianFactory()
    team = care_team_make(members=[clinician])
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        patient = patient_make(team=team, mrn="AUD-1", given_name="Auditia", family_name="Rotor")
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b, key_a]):
        call_command("rotate_phi_key", stdout=StringIO())
    event = AuditEvent.objects.filter(object_type="phi.keys").get()
    assert event.action == "update" and event.actor is None
    assert event.detail["rows_reencrypted"] == 1
    assert event.detail["values_reencrypted"] == len(PHI_FIELDS)
    assert event.detail["models"]["patients.patient"]["rows"] == 1
    dumped = json.dumps(event.detail)
    for value in ("AUD-1", "Auditia", "Rotor", key_a, key_b):
        assert value not in dumped
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b]):
        assert list(patient_search(user=clinician, query="auditia rotor")) == [patient]


@pytest.mark.django_db
def test_rotation_is_idempotent_and_counts_rows_already_on_the_newest_key():
    key_a, key_b = fernet_key(), fernet_key()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        patients = _patients(10)
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b, key_a]):
        for patient in patients[:4]:
            patient.save()  # an ordinary write re-encrypts under the newest key
        out = StringIO()
        call_command("rotate_phi_key", stdout=out)
        assert "10 rows, 6 re-encrypted (48 values), 4 already on the newest key" in out.getvalue()
        again = StringIO()
        call_command("rotate_phi_key", stdout=again)
        assert "10 rows, 0 re-encrypted (0 values), 10 already on the newest key" in (
            again.getvalue()
        )


@pytest.mark.django_db
def test_an_interrupted_rotation_resumes_where_it_stopped(monkeypatch):
    key_a, key_b = fernet_key(), fernet_key()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        _patients(20)
        expected = _snapshot()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b, key_a]):
        ring = key_ring()
        real_encrypt, calls = ring.encrypt, []

        def failing_encrypt(plaintext: bytes) -> bytes:
            calls.append(1)
            if len(calls) > 5 * len(PHI_FIELDS) + 3:  # in the second batch of five rows
                raise RuntimeError("power cut")
            return real_encrypt(plaintext)

        monkeypatch.setattr(ring, "encrypt", failing_encrypt)
        with pytest.raises(RuntimeError, match="power cut"):
            call_command("rotate_phi_key", "--batch-size", "5", stdout=StringIO())
        monkeypatch.setattr(ring, "encrypt", real_encrypt)

        out = StringIO()
        with pytest.raises(SystemExit):
            call_command("rotate_phi_key", "--check", stdout=out)
        assert "20 rows, 15 need the newest key" in out.getvalue()  # batch one was committed
        out = StringIO()
        call_command("rotate_phi_key", "--batch-size", "5", stdout=out)
        assert "20 rows, 15 re-encrypted (120 values), 5 already" in out.getvalue()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b]):
        assert _snapshot() == expected


@pytest.mark.django_db
def test_a_value_no_key_opens_fails_the_run_and_the_check_but_the_rest_is_rotated():
    key_a, key_b = fernet_key(), fernet_key()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        broken, *others = _patients(3)
    raw = bytearray(raw_column(broken.pk, "address"))
    raw[40] ^= 0xFF
    raw_column_write(broken.pk, "address", bytes(raw))
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b, key_a]):
        err = StringIO()
        with pytest.raises(CommandError, match="1 values could not be opened"):
            call_command("rotate_phi_key", "--reindex", stdout=StringIO(), stderr=err)
        assert f"patients.patient pk={broken.pk}" in err.getvalue()
        assert "Blind indexes left as they are" in err.getvalue()
        assert _check_exit_code(stderr=StringIO()) == 1
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b]):
        rotated = Patient.objects.filter(pk__in=[p.pk for p in others]).order_by("pk")
        assert [p.mrn for p in rotated] == [p.mrn for p in others]


@pytest.mark.django_db
def test_reindex_recomputes_blind_indexes_after_the_index_key_changed(settings):
    clinician = ClinicianFactory()
    patient = patient_make(team=care_team_make(members=[clinician]), family_name="Reindexova")
    settings.PHI_BLIND_INDEX_KEY = "a-new-blind-index-key"
    assert list(patient_search(user=clinician, query="Reindexova")) == []
    assert _check_exit_code(reindex=True) == 1
    out = StringIO()
    call_command("rotate_phi_key", "--reindex", stdout=out)
    assert "blind indexes: 1 patients recomputed, 0 already right" in out.getvalue()
    assert list(patient_search(user=clinician, query="reindexova")) == [patient]
    assert _check_exit_code(reindex=True) == 0
    event = AuditEvent.objects.filter(object_type="phi.keys").get()
    assert event.detail["patients_reindexed"] == 1


def test_encrypted_fields_are_discovered_across_installed_apps():
    found = {
        model._meta.label_lower: {f.name for f in fields} for model, fields in encrypted_fields()
    }
    assert found["patients.patient"] == set(PHI_FIELDS)
