"""The treatment-benefit model on the web side: registering and activating its versions, loading
the active one once per process (only after three digests agree: the file's, its manifest's and
the one the database copied at registration), and the estimate for a patient's facts.

The numbers are recommendations.ml.benefit's; this module decides whom the model speaks for: a
woman with breast cancer (ICD-10 C50) whose record holds her age and the tumour's size, grade,
positive lymph nodes and receptor levels, all inside the trial cohort's ranges. For anybody else,
or when no model is active or its files fail their check, there is no estimate (None), never an
error: a recommendation without a benefit line is better than no recommendations.
"""

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction
from healthmentor.artifacts import (
    ArtifactIntegrityError,
    LoadedOnce,
    artifact_dir_under,
    manifest_read_verified,
    registration_check,
)
from recommendations.engine.facts import BenefitEstimate, ObservationFact, PatientFacts
from recommendations.ml.benefit import (
    COHORT,
    MODEL_FILE,
    NAME,
    BenefitInputs,
    BenefitModel,
    OutsideCohortError,
    benefit_load,
)
from recommendations.models import BenefitModelVersion

logger = logging.getLogger(__name__)

BREAST_CANCER = "C50"
MENOPAUSE_CONDITIONS = ("N95.1", "Z78.0")
MENOPAUSE_AGE = 50

# LOINC code -> (input name, label, {accepted unit: factor to the trial's unit}). The first unit
# is the catalog's canonical one; facts carry canonical units, so a blank unit means it. Any
# other unit is not guessed at: no estimate.
TUMOUR_OBSERVATIONS: dict[str, tuple[str, str, dict[str, float]]] = {
    "21889-1": ("tumour_size_mm", "tumour size", {"mm": 1.0, "cm": 10.0, "": 1.0}),
    "21893-3": ("positive_nodes", "positive lymph nodes", {"{#}": 1.0, "1": 1.0, "": 1.0}),
    "21858-6": ("grade", "histologic grade", {"{grade}": 1.0, "1": 1.0, "": 1.0}),
    "14130-9": ("estrogen_fmol_mg", "estrogen receptor", {"fmol/mg": 1.0, "": 1.0}),
    "14230-7": ("progesterone_fmol_mg", "progesterone receptor", {"fmol/mg": 1.0, "": 1.0}),
}

# Keyed by row, digest and folder: a test database reuses ids, and BENEFIT_MODEL_ROOT may change.
_loaded: LoadedOnce[BenefitModel] = LoadedOnce()


def benefit_model_root() -> Path:
    """settings.BENEFIT_MODEL_ROOT as a Path."""
    return Path(str(settings.BENEFIT_MODEL_ROOT))


def benefit_model_folder(version: BenefitModelVersion) -> Path:
    """The artifact folder of `version` (artifact_dir is relative to BENEFIT_MODEL_ROOT)."""
    return benefit_model_root() / version.artifact_dir


def _artifact_dir(folder: Path) -> tuple[Path, str]:
    root = benefit_model_root()
    try:
        return artifact_dir_under(root, folder)
    except ValueError:
        raise ValidationError(
            {"folder": [f"{folder} is not under BENEFIT_MODEL_ROOT ({root.resolve()})."]}
        ) from None


def benefit_model_register(*, folder: Path) -> BenefitModelVersion:
    """The BenefitModelVersion of the artifact in `folder` (absolute, or relative to
    BENEFIT_MODEL_ROOT), created inactive if new, with its manifest copied. Idempotent by
    (name, version). ArtifactIntegrityError when the file does not match its manifest, or the
    manifest's sha256 differs from an earlier registration of the same version."""
    path, relative = _artifact_dir(folder)
    manifest = manifest_read_verified(path, MODEL_FILE)
    name, version = str(manifest.get("name", "")), str(manifest.get("version", ""))
    if not name or not version:
        raise ValidationError({"folder": [f"{path}: the manifest names no model or version."]})
    existing = BenefitModelVersion.objects.filter(name=name, version=version).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = BenefitModelVersion.objects.create(
                    name=name,
                    version=version,
                    artifact_dir=relative,
                    sha256=str(manifest["sha256"]),
                    manifest=manifest,
                )
                audit_record(
                    actor=None,
                    action=AuditAction.CREATE,
                    obj=existing,
                    detail={"benefit_model": name, "version": version},
                )
                return existing
        except IntegrityError:  # registered by a concurrent call between our look and insert
            existing = BenefitModelVersion.objects.get(name=name, version=version)
    if existing.sha256 != manifest["sha256"]:
        raise ArtifactIntegrityError(
            f"{name} {version} is already registered with sha256 {existing.sha256}; the "
            f"artifact in {path} has {manifest['sha256']}. A retrained model gets a new version."
        )
    return existing


@transaction.atomic
def benefit_model_activate(*, version: BenefitModelVersion) -> BenefitModelVersion:
    """Make `version` the one active model of its name, deactivating the previous one in the
    same transaction. Its artifact is loaded and verified first: a missing or tampered one is
    refused (ArtifactIntegrityError) and nothing changes. Audits UPDATE."""
    rows = list(
        BenefitModelVersion.objects.select_for_update().filter(name=version.name).order_by("pk")
    )
    target = next((row for row in rows if row.pk == version.pk), None)
    if target is None:
        raise ValidationError("This benefit-model version no longer exists.")
    if target.is_active:
        return target
    benefit_model_get(target)
    previous = [row for row in rows if row.is_active]
    BenefitModelVersion.objects.filter(pk__in=[row.pk for row in previous]).update(is_active=False)
    target.is_active = True
    target.activated_at = timezone.now()
    target.save(update_fields=["is_active", "activated_at"])
    audit_record(
        actor=None,
        action=AuditAction.UPDATE,
        obj=target,
        detail={
            "benefit_model": target.name,
            "version": target.version,
            "activated": True,
            "deactivated": [str(row.public_id) for row in previous],
        },
    )
    version.is_active, version.activated_at = target.is_active, target.activated_at
    return target


def benefit_model_active(name: str = NAME) -> BenefitModelVersion | None:
    """The active version of benefit model `name`, or None."""
    return BenefitModelVersion.objects.filter(name=name, is_active=True).first()


def benefit_model_get(version: BenefitModelVersion) -> BenefitModel:
    """The loaded model of `version`, from this process's cache after the first call.
    ArtifactIntegrityError when the file, its manifest and the database row disagree, or the
    artifact is missing."""
    folder = benefit_model_folder(version)

    def load() -> BenefitModel:
        model = benefit_load(folder)
        registration_check(
            what="Benefit model",
            folder=folder,
            manifest=model.manifest,
            sha256=version.sha256,
            found=(model.name, model.version),
            registered=(version.name, version.version),
        )
        return model

    return _loaded.get((version.pk, version.sha256, str(folder)), load)


def benefit_model_verified(version: BenefitModelVersion) -> bool:
    """Whether `version`'s artifact loads and matches its registration."""
    try:
        benefit_model_get(version)
    except (ArtifactIntegrityError, OSError):
        return False
    return True


def benefit_model_cache_clear() -> None:
    """Forget every loaded model (tests; a long-lived process after artifacts were replaced)."""
    _loaded.clear()


def benefit_model_card(version: BenefitModelVersion) -> dict[str, Any]:
    """The card of one benefit-model version, shaped like the risk models' (model_cards)."""
    manifest = version.manifest or {}
    return {
        "id": str(version.public_id),
        "name": str(manifest.get("title") or version.name),
        "version": version.version,
        "kind": "treatment-benefit",
        "algorithm": str(manifest.get("algorithm", "")),
        "dataset": manifest.get("dataset", {}),
        "intended_use": manifest.get("intended_use", ""),
        "synthetic": False,
        "active": version.is_active,
        "metrics": manifest.get("metrics", {}),
        "caveats": manifest.get("limits", []),
    }


def benefit_model_cards_active() -> list[dict[str, Any]]:
    """The cards of the active benefit models."""
    return [
        benefit_model_card(v)
        for v in BenefitModelVersion.objects.filter(is_active=True).order_by("name")
    ]


# --- the estimate for a patient -------------------------------------------------------------


def _menopause(facts: PatientFacts, age: int) -> dict[str, str]:
    recorded = facts.condition(*MENOPAUSE_CONDITIONS)
    if recorded is not None:
        return {"value": "post", "basis": f"condition {recorded.code}"}
    if age >= MENOPAUSE_AGE:
        return {"value": "post", "basis": f"age >= {MENOPAUSE_AGE}"}
    return {"value": "pre", "basis": f"age < {MENOPAUSE_AGE}"}


def _tumour_values(facts: PatientFacts) -> tuple[dict[str, float], dict[str, Any]] | None:
    values: dict[str, float] = {}
    shown: dict[str, Any] = {}
    for code, (name, label, units) in TUMOUR_OBSERVATIONS.items():
        fact: ObservationFact | None = facts.obs(code)
        if fact is None or fact.unit not in units:
            return None
        values[name] = fact.value * units[fact.unit]
        shown[name] = {
            "label": label,
            "value": values[name],
            "unit": next(iter(units)),
            "code": code,
            "at": fact.at.isoformat(),
        }
    return values, shown


def benefit_estimate_for_facts(facts: PatientFacts) -> BenefitEstimate | None:
    """The active model's estimate of 5-year recurrence-free survival with and without hormonal
    therapy for a woman with breast cancer, or None: another patient, a missing value, a value
    outside the trial's ranges, no active model, or an artifact that fails its check."""
    if facts.sex != "female" or facts.age is None or facts.condition(BREAST_CANCER) is None:
        return None
    tumour = _tumour_values(facts)
    if tumour is None:
        return None
    version = benefit_model_active()
    if version is None:
        return None
    try:
        model = benefit_model_get(version)
    except (ArtifactIntegrityError, OSError) as error:
        logger.warning("Benefit model %s is unusable: %s", version.public_id, error)
        return None
    values, shown = tumour
    menopause = _menopause(facts, facts.age)
    inputs = BenefitInputs(
        age=float(facts.age),
        postmenopausal=menopause["value"] == "post",
        tumour_size_mm=values["tumour_size_mm"],
        grade=round(values["grade"]),
        positive_nodes=values["positive_nodes"],
        progesterone_fmol_mg=values["progesterone_fmol_mg"],
        estrogen_fmol_mg=values["estrogen_fmol_mg"],
    )
    try:
        benefit = model.estimate(inputs)
    except OutsideCohortError:  # the message names clinical values: not for the log
        logger.debug("No benefit estimate: a value is outside the trial cohort's ranges.")
        return None
    return BenefitEstimate(
        rfs_with=benefit.rfs_with,
        rfs_without=benefit.rfs_without,
        difference=benefit.difference,
        ci_with=benefit.ci_with,
        ci_without=benefit.ci_without,
        ci_difference=benefit.ci_difference,
        horizon_years=benefit.horizon_years,
        model=f"{version.name} {version.version}",
        cohort=COHORT,
        inputs={
            "age": {"value": facts.age, "unit": "years"},
            "menopause": menopause,
            **shown,
        },
    )
