"""`manage.py train_risk_models`: train, save, register and (where none is) activate the risk
models of prediction.ml, printing a line per training step on stderr and a summary table."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prediction.loading import risk_model_root
from prediction.ml.diseases import DISEASES
from prediction.ml.training import save_trained, train_disease
from prediction.models import ModelVersion
from prediction.services import model_version_activate, model_version_register

BAR_WIDTH = 20


class Command(BaseCommand):
    help = (
        "Train the disease-risk models (all, or --disease KEY ...), save them under "
        "RISK_MODEL_ROOT, register each version and activate it where the disease has no active "
        "version yet (otherwise the administrator's choice stands). Deterministic for a seed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--disease",
            action="append",
            choices=sorted(DISEASES),
            help="A disease to train (repeatable). Default: every disease.",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed (default: the training default)."
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Train only diseases without an active version (nothing when all have one).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        diseases: list[str] = list(dict.fromkeys(options["disease"] or DISEASES))
        if options["if_missing"]:
            active = set(
                ModelVersion.objects.filter(is_active=True).values_list("disease", flat=True)
            )
            diseases = [key for key in diseases if key not in active]
            if not diseases:
                self.stdout.write("Every disease has an active risk model: nothing to train.")
                return
        root = risk_model_root()
        root.mkdir(parents=True, exist_ok=True)
        seed_kwargs = {} if options["seed"] is None else {"seed": options["seed"]}
        started = time.monotonic()
        rows = []
        for n, key in enumerate(diseases):
            progress = self._progress(n, len(diseases), started)
            progress(f"{key}: training")
            try:
                trained = train_disease(key, progress=progress, **seed_kwargs)
                folder = save_trained(trained, root)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{key}: training failed: {exc}") from exc
            rows.append(self._register(Path(folder)))
            progress(f"{key}: saved and registered")
        self._progress(len(diseases), len(diseases), started)("done")
        self._summary(rows)

    def _progress(self, done: int, total: int, started: float) -> Callable[[str], None]:
        filled = round(BAR_WIDTH * done / max(total, 1))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)

        def report(step: str) -> None:
            elapsed = time.monotonic() - started
            self.stderr.write(f"[{bar}] {done}/{total} {elapsed:6.1f} s  {step}".rstrip())

        return report

    def _register(self, folder: Path) -> dict[str, Any]:
        version = model_version_register(folder=folder)
        active = ModelVersion.objects.filter(disease=version.disease, is_active=True).first()
        if active is None:
            model_version_activate(by=None, version=version)
            note = "activated (none was active)"
        elif active.pk == version.pk:
            note = "already the active version"
        else:
            note = f"not activated: {active.version} stays active (activate in admin)"
        version.refresh_from_db()
        return {"version": version, "note": note}

    def _summary(self, rows: list[dict[str, Any]]) -> None:
        header = ("disease", "algorithm", "AUROC [95% CI]", "version", "active")
        lines = []
        for row in rows:
            version: ModelVersion = row["version"]
            metrics = version.manifest.get("metrics", {})
            ci = metrics.get("auroc_ci") or [float("nan"), float("nan")]
            auroc = f"{metrics.get('auroc', float('nan')):.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
            lines.append(
                (
                    version.disease,
                    version.algorithm,
                    auroc,
                    version.version,
                    "yes" if version.is_active else "no",
                )
            )
        widths = [max(len(str(cell)) for cell in col) for col in zip(header, *lines, strict=False)]
        for line in (header, *lines):
            cells = (str(c).ljust(w) for c, w in zip(line, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
        for row in rows:
            self.stdout.write(f"{row['version'].disease}: {row['note']}.")
