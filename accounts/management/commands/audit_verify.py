"""`manage.py audit_verify`: walk the hash chain of the audit trail; exit 1 at the first break."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits 1 naming the first altered or missing event."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=2000, help="Events read per database round trip."
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        result = audit_verify(batch_size=batch_size)
        if not result.ok:
            raise CommandError(
                f"audit chain broken: {result.reason} ({result.checked} events verified before it)",
                returncode=1,
            )
        self.stdout.write(f"audit chain intact: {result.checked} events")
