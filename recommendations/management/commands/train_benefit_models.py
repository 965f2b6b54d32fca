"""`manage.py train_benefit_models [--if-missing] [--seed N]`: train the treatment-benefit model
on GBSG2, save it under BENEFIT_MODEL_ROOT/gbsg2_hormonal/<version>/, register and activate it,
and print its validation figures."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from healthmentor.artifacts import ArtifactIntegrityError
from recommendations.benefit import (
    NAME,
    benefit_model_activate,
    benefit_model_active,
    benefit_model_register,
    benefit_model_root,
    benefit_model_verified,
)
from recommendations.ml.benefit import DEFAULT_SEED
from recommendations.ml.benefit_training import benefit_save, benefit_train


class Command(BaseCommand):
    help = (
        "Train the hormonal-therapy benefit model on the GBSG2 trial cohort (Cox model with "
        "treatment interactions, bootstrap intervals, cross-validated C-index, time-dependent "
        "AUC and calibration), register it and make it the active version. Deterministic for a "
        "seed: the same seed gives the same file and version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed (bootstrap, folds)."
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when an active version exists and its files verify.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        active = benefit_model_active(NAME)
        if options["if_missing"] and active is not None:
            if benefit_model_verified(active):
                self.stdout.write(f"{active} is active and its files verify: nothing to train.")
                return
            self.stderr.write(f"{active} is active but its files fail their check: retraining.")
        seed = DEFAULT_SEED if options["seed"] is None else options["seed"]
        started = time.monotonic()

        def progress(step: str) -> None:
            self.stderr.write(f"{time.monotonic() - started:6.1f} s  {step}")

        try:
            trained = benefit_train(seed=seed, progress=progress)
            folder = benefit_save(trained, benefit_model_root())
            version = benefit_model_register(folder=folder)
            version = benefit_model_activate(version=version)
        except (OSError, ValueError, ArtifactIntegrityError) as exc:
            raise CommandError(f"{NAME}: training failed: {exc}") from exc
        progress("saved, registered and activated")
        self._summary(version.manifest, str(version))

    def _summary(self, manifest: dict[str, Any], label: str) -> None:
        m = manifest.get("metrics", {})
        auc = m.get("time_dependent_auc", {})
        calibration = m.get("calibration_5y", {})
        out = self.stdout.write
        out(f"{label} (active): {m.get('n_patients')} patients, {m.get('n_events')} events")
        out(f"  validation: {m.get('validation')}")
        out(
            f"  C-index Harrell {m.get('c_index_harrell'):.3f}, Uno {m.get('c_index_uno'):.3f} "
            f"(apparent {m.get('c_index_apparent'):.3f})"
        )
        out("  time-dependent AUC " + ", ".join(f"{k} {v:.3f}" for k, v in auc.items()))
        out(
            f"  calibration at 5 years: slope {calibration.get('slope'):.3f}, mean |predicted - "
            f"observed| {calibration.get('mean_absolute_difference'):.3f}"
        )
        for group in calibration.get("groups", []):
            low, high = group["observed_ci"]
            out(
                f"    risk quintile {group['group']}: predicted RFS {group['predicted_rfs']:.3f}, "
                f"observed {group['observed_rfs']:.3f} [{low:.3f}, {high:.3f}] "
                f"(n={group['n']}, {group['events']} events)"
            )
        for term, effect in m.get("effects", {}).items():
            low, high = effect["ci"]
            out(f"  HR {term}: {effect['hazard_ratio']:.3f} [{low:.3f}, {high:.3f}]")
