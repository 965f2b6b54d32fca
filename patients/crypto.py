"""PHI encryption at rest: django-cryptography's encrypted fields, Fernet tokens, key rotation and
blind indexes.

django-cryptography encrypts with one key derived from SECRET_KEY and pickles values. Here each
field encrypts JSON (no pickle) under the newest key of PHI_ENCRYPTION_KEYS, and decrypts with
whichever configured key authenticates the token, so `rotate_phi_key` can re-encrypt every row
while old keys are still accepted. A token no key authenticates raises PhiDecryptionError: a
wrong key or tampered data is never shown as if it were data.
"""

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models
from django_cryptography.fields import EncryptedMixin


class PhiDecryptionError(Exception):
    """A PHI value could not be authenticated with any configured key (wrong key or tampering)."""


class PhiKeyRing:
    """Encrypts with the first key; decrypts with any. Keys are url-safe base64 of 32 bytes.

    The tokens are standard Fernet (version, timestamp, IV, AES-128-CBC, HMAC-SHA256), the format
    django-cryptography's own Fernet writes too (tests/patients/test_crypto.py reads each with the
    other): `cryptography`'s implementation opens one in about 11 µs instead of 18, and the
    patient list opens eight per row.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("PHI_ENCRYPTION_KEYS is empty.")
        self._fernets = [Fernet(key.encode()) for key in keys]

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernets[0].encrypt(plaintext)

    def decrypt(self, token: bytes) -> tuple[bytes, int]:
        """The plaintext and the index of the key that opened it (0 is the newest)."""
        for index, fernet in enumerate(self._fernets):
            try:
                return fernet.decrypt(token), index
            except (InvalidToken, ValueError):
                continue
        raise PhiDecryptionError(
            "A PHI value failed authentication with every configured key: the key is wrong or "
            "the stored ciphertext was altered."
        )


@lru_cache(maxsize=4)
def _key_ring(keys: tuple[str, ...]) -> PhiKeyRing:
    return PhiKeyRing(keys)


def key_ring() -> PhiKeyRing:
    """The key ring of the current settings (tests may override PHI_ENCRYPTION_KEYS)."""
    return _key_ring(tuple(settings.PHI_ENCRYPTION_KEYS))


class PhiEncryptedMixin(EncryptedMixin):
    """An encrypted column (binary) holding JSON of the base field's value; lookups: isnull."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Skip EncryptedMixin.__init__: it builds a single-key Fernet from SECRET_KEY.
        super(EncryptedMixin, self).__init__(*args, **kwargs)

    def _dump(self, value: Any) -> bytes:
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        return key_ring().encrypt(json.dumps(value).encode())

    def _load(self, value: bytes) -> Any:
        plaintext, _ = key_ring().decrypt(value)
        return self.to_python(json.loads(plaintext))

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        # The base field's own arguments (max_length, choices) under this class's path.
        name, _, args, kwargs = self.base_class.deconstruct(self)
        return name, f"{type(self).__module__}.{type(self).__qualname__}", args, kwargs

    def clone(self) -> "PhiEncryptedMixin":
        _, _, args, kwargs = self.deconstruct()
        return type(self)(*args, **kwargs)


class EncryptedCharField(PhiEncryptedMixin, models.CharField):
    base_class = models.CharField
    wasinstance = True


class EncryptedTextField(PhiEncryptedMixin, models.TextField):
    base_class = models.TextField
    wasinstance = True


class EncryptedDateField(PhiEncryptedMixin, models.DateField):
    base_class = models.DateField
    wasinstance = True


class EncryptedEmailField(PhiEncryptedMixin, models.EmailField):
    base_class = models.EmailField
    wasinstance = True


def normalize_for_index(value: str) -> str:
    """Case, accents, spacing and punctuation do not matter for an exact-match search."""
    decomposed = unicodedata.normalize("NFKD", value)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    kept = "".join(ch if ch.isalnum() else " " for ch in letters.casefold())
    return " ".join(kept.split())


def blind_index(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of the normalized value under PHI_BLIND_INDEX_KEY, separated by purpose."""
    normalized = normalize_for_index(value)
    if not normalized:
        return ""
    key = settings.PHI_BLIND_INDEX_KEY.encode()
    message = f"{purpose}\x00{normalized}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class EncryptedJSONField(PhiEncryptedMixin, models.TextField):
    """An encrypted JSON value (a dict of DICOM header PHI, say): stored like the others, returned
    as the JSON value it was given, never as its string."""

    base_class = models.TextField
    wasinstance = True
    # For django-stubs: the attribute holds any JSON value, not a str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def to_python(self, value: Any) -> Any:
        return value
