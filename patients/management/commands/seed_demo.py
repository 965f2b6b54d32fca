"""`manage.py seed_demo`: demo logins, care teams and synthetic patients (see patients.demo)."""

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from patients.demo import (
    demo_care_teams_ensure,
    demo_password_generate,
    demo_patients_ensure,
    demo_users_ensure,
)


class Command(BaseCommand):
    help = (
        "Create demo users (one per role), care teams and synthetic patients drawn from real "
        "datasets. Idempotent: what exists is left as it is (passwords too, unless "
        "--reset-passwords)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=200, help="Number of demo patients.")
        parser.add_argument("--seed", type=int, default=20240601, help="Random seed.")
        parser.add_argument(
            "--password",
            help="Password of new demo users (default: a random one, printed at the end).",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo users the printed password (--password or a new random one).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run although DJANGO_DEBUG is off: demo logins include a superuser.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates demo logins (a superuser among them) with a printed password: "
                "it runs with DJANGO_DEBUG=true, or with --force."
            )
        if options["patients"] < 0:
            raise CommandError("--patients must be 0 or more.")
        password = options["password"]
        if password is None:
            password = demo_password_generate()
        else:
            try:
                password_validation.validate_password(password)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None

        started = time.monotonic()
        logins = demo_users_ensure(password=password, reset_passwords=options["reset_passwords"])
        teams = demo_care_teams_ensure()
        result = demo_patients_ensure(count=options["patients"], seed=options["seed"], teams=teams)
        elapsed = time.monotonic() - started

        self.stdout.write(
            f"Care teams: {', '.join(teams)}.\n"
            f"Synthetic patients: {result.created} created, {result.existing} already present "
            f"(seed {options['seed']}, {elapsed:.1f} s)."
        )
        self.stdout.write("\nDemo logins:")
        width = max(len(login.email) for login in logins)
        for login in logins:
            if login.password is not None:
                shown = login.password
            else:
                shown = "(unchanged: existing user; --reset-passwords sets the one printed)"
            status = "created" if login.created else "exists"
            self.stdout.write(f"  {login.role:<12} {login.email:<{width}}  {status:<8} {shown}")
        if any(login.password is None for login in logins):
            self.stdout.write(
                "\nExisting demo users keep their passwords; run with --reset-passwords "
                "(and optionally --password) to set a new one."
            )
