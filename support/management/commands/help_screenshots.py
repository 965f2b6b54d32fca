"""`manage.py help_screenshots`: take the help guides' screenshots again from the real pages.

It runs the browser test tests/help/test_guide_screenshots.py (pytest, the test settings, a
throw-away test database, synthetic patients, Debian chromium) with its output pointed at a
temporary folder, and only when every screenshot was taken replaces static/help/screenshots/ with
them: a failed run leaves the committed pictures as they were.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

TEST_MODULE = "tests/help/test_guide_screenshots.py"


class Command(BaseCommand):
    help = "Regenerate the help guides' screenshots (static/help/screenshots/) from the real pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out",
            default=str(Path(settings.BASE_DIR) / "static" / "help" / "screenshots"),
            help="Folder of the PNG files (default: static/help/screenshots).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = Path(settings.BASE_DIR)
        out = Path(options["out"])
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="help-screenshots-") as tmp:
            env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
            env["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
            env["HELP_SCREENSHOTS_OUT"] = tmp
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            result = subprocess.run(  # noqa: S603  (a fixed command of our own)
                [*command, TEST_MODULE], cwd=base, env=env, check=False
            )
            if result.returncode != 0:
                raise CommandError(
                    f"The screenshot test failed (exit {result.returncode}); "
                    f"{out} was left unchanged."
                )
            taken = sorted(Path(tmp).glob("*.png"))
            out.mkdir(parents=True, exist_ok=True)
            for stale in out.glob("*.png"):
                stale.unlink()
            for png in taken:
                shutil.copyfile(png, out / png.name)
        size = sum(p.stat().st_size for p in out.glob("*.png"))
        self.stdout.write(
            f"{len(taken)} screenshots ({size / 1024:.0f} KiB) written to {out} "
            f"in {time.monotonic() - started:.0f} s."
        )
