"""`manage.py imaging_encrypt_originals`: encrypt the imaging originals stored before encryption.

Uploads are sealed when they are stored (imaging.storage); a deployment that has originals from
before keeps them as plaintext, DICOM headers and all, until this runs. Each study's original is
sealed where it lies, atomically (a `.part` beside it, then a rename): an interrupted run leaves
every file either as it was or encrypted, and running again skips what is encrypted already.
Readers accept both forms, so it can run while the portal and the workers are up.

`--rekey` also re-seals originals encrypted under an older key (after a PHI key rotation, before
the old key is dropped from PHI_ENCRYPTION_KEYS). `--check` changes nothing and exits 1 while a
plaintext original (or, with `--rekey`, one under an older key) remains.
"""

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from imaging import storage
from imaging.filecrypt import HEADER, is_encrypted, key_id_of
from imaging.models import Study


class Command(BaseCommand):
    help = "Encrypt imaging originals stored as plaintext (idempotent; atomic per file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rekey", action="store_true", help="re-seal files under an older key too"
        )
        parser.add_argument(
            "--check", action="store_true", help="change nothing; exit 1 if work remains"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts: Counter[str] = Counter()
        names = Study.objects.exclude(file_name="").order_by("pk").values_list("file_name")
        for (name,) in names.iterator():
            counts[self._one(name, rekey=options["rekey"], check=options["check"])] += 1
        order = ("encrypted", "rekeyed", "kept", "plaintext", "old_key", "missing", "invalid")
        self.stdout.write(" ".join(f"{k}={counts[k]}" for k in order if k in counts) or "no files")
        if options["check"] and (counts["plaintext"] or counts["old_key"]):
            sys.exit(1)

    def _one(self, name: str, *, rekey: bool, check: bool) -> str:
        try:
            if check:
                return _state(name, rekey=rekey)
            return storage.original_encrypt_in_place(name, rekey=rekey)
        except FileNotFoundError:
            return "missing"
        except ValueError:  # a name outside the imaging folder: never followed
            return "invalid"


def _state(name: str, *, rekey: bool) -> str:
    with storage.path_of(name).open("rb") as source:
        head = source.read(HEADER.size)
    if not is_encrypted(head):
        return "plaintext"
    if rekey and key_id_of(head) != storage.file_keys()[0].key_id:
        return "old_key"
    return "kept"
