"""PHI at rest: the wrong key or an altered ciphertext is an error, never data; no plaintext of any
PHI value is stored in the patients table."""

import base64
import datetime as dt
import json
import os

import pytest
from django.db import connection
from django.test import override_settings

from patients.crypto import PhiDecryptionError, PhiKeyRing, key_ring
from patients.models import Patient
from tests.factories import care_team_make, patient_make

PHI_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
)


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def raw_column(pk: int, column: str) -> bytes:
    table = connection.ops.quote_name(Patient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return bytes(cursor.fetchone()[0])


def raw_column_write(pk: int, column: str, value: bytes) -> None:
    table = connection.ops.quote_name(Patient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s",  # noqa: S608
            [value, pk],
        )


@pytest.mark.django_db
def test_a_value_round_trips_through_an_encrypted_column():
    patient = patient_make(
        team=care_team_make(),
        mrn="RT-0001",
        given_name="Zoë",
        family_name="O'Brien-Łukasz",
        date_of_birth=dt.date(1971, 3, 9),
        phone="+44 7700 900555",
        email="zoe@example.org",
        address="1 Rue de l'Été\nParis",
    )
    loaded = Patient.objects.get(pk=patient.pk)
    for name in PHI_FIELDS:
        assert getattr(loaded, name) == getattr(patient, name)
    assert loaded.date_of_birth == dt.date(1971, 3, 9)


@pytest.mark.django_db
def test_the_column_holds_one_layer_of_fernet_over_json():
    patient = patient_make(team=care_team_make(), mrn="LAYER-1", family_name="Layered")
    plaintext, key_index = key_ring().decrypt(raw_column(patient.pk, "family_name"))
    assert key_index == 0
    assert json.loads(plaintext) == "Layered"


@pytest.mark.django_db
def test_reading_with_the_wrong_key_raises_a_clear_error_not_ciphertext():
    key_a, key_b = fernet_key(), fernet_key()
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        patient = patient_make(team=care_team_make(), family_name="Wrongkey")
    with override_settings(PHI_ENCRYPTION_KEYS=[key_b]):
        with pytest.raises(PhiDecryptionError, match="every configured key") as exc:
            Patient.objects.get(pk=patient.pk)
        assert "wrong" in str(exc.value) and "altered" in str(exc.value)
        with pytest.raises(PhiDecryptionError):
            list(Patient.objects.filter(pk=patient.pk).values_list("family_name", flat=True))
    # The right key still opens it.
    with override_settings(PHI_ENCRYPTION_KEYS=[key_a]):
        assert Patient.objects.get(pk=patient.pk).family_name == "Wrongkey"


def test_the_key_ring_reports_which_key_opened_a_token():
    old, new = fernet_key(), fernet_key()
    token = PhiKeyRing([old]).encrypt(b'"x"')
    assert PhiKeyRing([new, old]).decrypt(token) == (b'"x"', 1)
    with pytest.raises(PhiDecryptionError):
        PhiKeyRing([new]).decrypt(token)
    with pytest.raises(ValueError, match="empty"):
        PhiKeyRing([])


def test_tokens_written_by_django_cryptographys_fernet_still_open_and_the_other_way_round():
    # Rows encrypted before the key ring moved to `cryptography`'s Fernet must still open, and
    # django-cryptography's own Fernet reads what the ring writes now: one token format.
    from django_cryptography.utils.crypto import Fernet as DjangoCryptographyFernet

    key = fernet_key()
    ring = PhiKeyRing([key])
    old_token = DjangoCryptographyFernet(key.encode()).encrypt(b'"Ysolde"')
    assert ring.decrypt(old_token) == (b'"Ysolde"', 0)
    assert DjangoCryptographyFernet(key.encode()).decrypt(ring.encrypt(b'"Ysolde"')) == b'"Ysolde"'


@pytest.mark.parametrize("garbage", [b"", b"\x80", b"not a token at all", b"\x00" * 200])
def test_garbage_is_refused_by_the_key_ring(garbage):
    with pytest.raises(PhiDecryptionError):
        PhiKeyRing([fernet_key()]).decrypt(garbage)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["version", "timestamp", "iv", "ciphertext", "signature"])
def test_a_tampered_ciphertext_raises(where):
    patient = patient_make(team=care_team_make(), family_name="Tamperproof")
    raw = bytearray(raw_column(patient.pk, "family_name"))
    # Layout: version (1) | timestamp (8) | IV (16) | AES-CBC blocks | HMAC-SHA256 (32)
    position = {"version": 0, "timestamp": 5, "iv": 12, "ciphertext": 30, "signature": -1}[where]
    raw[position] ^= 0x01
    raw_column_write(patient.pk, "family_name", bytes(raw))
    with pytest.raises(PhiDecryptionError):
        Patient.objects.get(pk=patient.pk)


@pytest.mark.django_db
def test_no_plaintext_phi_in_any_column_of_the_patients_table():
    patient = patient_make(
        team=care_team_make(),
        mrn="MRN-PLAIN-4471",
        given_name="Genevieve",
        family_name="Plaintextova",
        date_of_birth=dt.date(1971, 3, 9),
        sex="female",
        phone="+44 7700 900555",
        email="genevieve.p@example.org",
        address="42 Cipher Street, Leaktown",
    )
    needles = [
        "MRN-PLAIN-4471",
        "Genevieve",
        "Plaintextova",
        "1971-03-09",
        "19710309",
        "7700 900555",
        "genevieve.p@example.org",
        "Cipher Street",
        "Leaktown",
    ]
    table = connection.ops.quote_name(Patient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [patient.pk])  # noqa: S608
        columns = [col[0] for col in cursor.description]
        row = cursor.fetchone()
    encrypted = {f.column for f in Patient._meta.concrete_fields if f.name in PHI_FIELDS}
    assert encrypted <= set(columns)
    for column, value in zip(columns, row, strict=True):
        binary = isinstance(value, memoryview | bytes)
        haystack = bytes(value) if binary else str(value).encode()
        if column in encrypted:
            assert len(haystack) > 50, column  # a token, not a short plaintext
        for needle in needles:
            for form in {needle, needle.lower(), needle.upper()}:
                assert form.encode() not in haystack, (column, needle)
                assert base64.b64encode(form.encode()) not in haystack, (column, needle)
