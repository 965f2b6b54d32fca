"""A synthetic world for bench/dashboards.py, built fast with bulk inserts.

`world_create` makes the staff (an admin, a researcher, a radiologist, 20 care teams with a
clinician each), three risk-model versions (active) with an older one each, an imaging model
version and two worker heartbeats. `world_grow(world, to=N)` then adds patients until there are
N, each with everything the dashboards read, so that the same world is measured at 1,000 and then
at 10,000 patients:

- the patient: encrypted demographics (the fields encrypt themselves on insert) with the blind
  indexes computed here as patients.services does, one care team, and the team Group's
  django-guardian grants (view, change), as care_team_add_patient gives them;
- 10 observations: four vitals twice and two labs, over the past 6 months;
- per disease (but for 5 % of patients), one latest risk assessment by the active version and,
  for 40 %, an older one (by the older version when over 3 months old); the snapshots that
  RiskAssessment.save() takes (disease, subject_sex, subject_age capped at 90, is_latest) are
  set here because bulk_create skips save(); 30 % carry an outcome drawn with P(confirmed) =
  probability;
- 1 imaging study per 10 patients in mixed states with timings, a third of them in the last 24 h;
- 2 current recommendations (distinct rules), 40 % decided, and an EHR feedback row for every
  20th patient.

Everything is drawn from one seeded generator: two runs build the same world (but for the
Fernet tokens, which carry a random IV).
"""

import datetime as dt
import math
import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from guardian.models import GroupObjectPermission

from accounts.models import User
from imaging.models import ImagingModelVersion, Study
from patients.catalog import OBSERVATION_TYPES
from patients.crypto import blind_index
from patients.models import CareTeam, Observation, Patient, Source
from patients.services import care_team_add_member, care_team_create
from prediction.ml.diseases import DISEASES
from prediction.ml.metrics import AGE_BANDS, age_band, reference_distribution
from prediction.models import ModelVersion, RiskAssessment
from recommendations.models import Feedback, Recommendation
from tests import factories

TEAMS = 20
DISEASE_KEYS = ("diabetes", "heart_disease", "ischemic_stroke")
BATCH = 2000
STUDIES_PER_PATIENT = 0.1
OUTCOME_SHARE = 0.3
OLDER_SHARE = 0.4
NOT_ASSESSED_SHARE = 0.05
# (code, mean, sd) in the catalog's canonical unit; vitals are measured twice, labs once.
VITALS = (("8480-6", 128, 16), ("8462-4", 80, 10), ("8867-4", 74, 11), ("39156-5", 28, 5))
LABS = (("2345-7", 105, 25), ("4548-4", 5.9, 0.9))
FAILURES = (
    ("analysis_error", "The analysis failed twice; the image may be unreadable."),
    ("file_missing", "The stored image is missing; upload it again."),
    ("gave_up", "No worker finished the analysis in time; it was given up."),
    ("not_an_image", "The file is not an image the portal can read."),
)
GIVEN = ("Alex", "Sam", "Maria", "Jon", "Aisha", "Li", "Noor", "Ivan", "Chloe", "Omar")
FAMILY = ("Smith", "Garcia", "Okafor", "Nguyen", "Kowalski", "Haddad", "Larsen", "Tanaka")


@dataclass
class World:
    admin: User
    researcher: User
    radiologist: User
    clinicians: list[User]
    teams: list[CareTeam]
    versions: dict[str, ModelVersion]
    older_versions: dict[str, ModelVersion]
    imaging_version: ImagingModelVersion
    rules: list[tuple[str, str]]
    now: dt.datetime
    rng: random.Random = field(default_factory=lambda: random.Random(20261204))
    patients: int = 0
    focus_patient: Patient | None = None  # a patient of clinicians[0]'s team with a study


def _feature_value(feature: Any, rng: random.Random, *, age: int, sex: str) -> float:
    if feature.name == "age":
        return float(age)
    if feature.name == "sex_male":
        return 1.0 if sex == "male" else 0.0
    if feature.kind == "binary":
        return float(rng.random() < 0.25)
    middle, spread = (feature.low + feature.high) / 2, (feature.high - feature.low) / 10
    value = min(max(rng.gauss(middle, spread), feature.low), feature.high)
    return float(round(value)) if feature.kind == "integer" else round(value, 2)


def _manifest(disease: str, version: str, *, seed: int) -> dict[str, Any]:
    """A manifest with what the dashboards read: bands, metrics, subgroups, the training
    reference distributions and the training curves (synthetic figures)."""
    from prediction.ml import metrics as m

    spec = DISEASES[disease]
    np_rng = np.random.default_rng(seed)
    n = 2000
    prob = np_rng.beta(1.6, 5.0, n)
    y = (np_rng.random(n) < prob).astype(int)
    threshold = 0.3
    figures = m.threshold_metrics(prob, y, threshold)
    ages = np_rng.integers(25, 90, n)
    sexes = np_rng.choice(np.array(["female", "male"]), n)
    subgroups = []
    for group, value, mask in [
        *(("sex", s, sexes == s) for s in ("female", "male")),
        *(("age_band", b, np.array([age_band(a) for a in ages]) == b) for b in AGE_BANDS),
    ]:
        part = m.threshold_metrics(prob[mask], y[mask], threshold)
        subgroups.append(
            {
                "group": group,
                "value": value,
                "n": int(mask.sum()),
                "positives": int(y[mask].sum()),
                "auroc": m.auroc(prob[mask], y[mask]),
                **{k: part[k] for k in ("sensitivity", "specificity", "ppv", "npv", "alert_rate")},
            }
        )
    rng = random.Random(seed)
    reference = {
        f.name: reference_distribution(
            np.array(
                [
                    _feature_value(f, rng, age=int(a), sex=str(s))
                    for a, s in zip(ages, sexes, strict=True)
                ]
            )
        )
        for f in spec.features
    }
    curves: dict[str, Any] = {}
    if hasattr(m, "roc_points"):  # the training curves, where prediction.ml records them
        curves = {
            "roc": m.roc_points(prob, y),
            "calibration": m.calibration_bins(prob, y),
            "confusion": {**m.confusion_counts(prob, y, threshold), "threshold": threshold},
        }
    return {
        "disease": disease,
        "version": version,
        "title": spec.title,
        "outcome": spec.outcome,
        "algorithm": "logistic_regression",
        "algorithm_label": "Logistic regression",
        "synthetic": True,
        "features": [asdict(f) for f in spec.features],
        "metrics": {
            "auroc": m.auroc(prob, y),
            "auroc_ci": [0.74, 0.82],
            "brier": float(np.mean((prob - y) ** 2)),
            "threshold": threshold,
            **figures,
        },
        "subgroups": subgroups,
        "subgroup_note": "Synthetic benchmark figures.",
        "bands": {"moderate": threshold / 2, "high": threshold},
        "reference": reference,
        "caveats": ["Benchmark world: synthetic model and figures."],
        "dataset": {"name": "bench", "rows": n, "positives": int(y.sum())},
        **({"curves": curves} if curves else {}),
    }


def _model_version(disease: str, version: str, *, active: bool, seed: int, at: Any) -> ModelVersion:
    return ModelVersion.objects.create(
        disease=disease,
        version=version,
        algorithm="logistic_regression",
        artifact_dir=f"{disease}/{version}",
        sha256=f"{seed:064x}",
        manifest=_manifest(disease, version, seed=seed),
        is_synthetic=True,
        is_active=active,
        registered_at=at,
        activated_at=at if active else None,
    )


def _heartbeats(now: dt.datetime) -> None:
    """Two workers, one alive and one stopped, where imaging has the heartbeat model."""
    from django.apps import apps

    try:
        model = apps.get_model("imaging", "WorkerHeartbeat")
    except LookupError:
        return
    model.objects.create(
        hostname="inference@bench-1", pid=101, queues=["inference"], last_seen_at=now
    )
    model.objects.create(
        hostname="inference@bench-2",
        pid=102,
        queues=["inference"],
        last_seen_at=now - dt.timedelta(hours=2),
        stopped_at=now - dt.timedelta(hours=2),
    )


def _staff(factory: Any, **fields: Any) -> User:
    user = factory(**fields)
    assert isinstance(user, User)
    return user


def world_create() -> World:
    """The staff, the care teams, the model versions: everything but the patients."""
    from recommendations.selectors import rule_catalogue

    now = timezone.now()
    admin = _staff(factories.AdminFactory, email="admin@bench.test")
    factories.TOTPDeviceFactory(user=admin)
    researcher = _staff(factories.ResearcherFactory, email="researcher@bench.test")
    radiologist = _staff(factories.RadiologistFactory, email="radiologist@bench.test")
    clinicians, teams = [], []
    for index in range(TEAMS):
        team = care_team_create(name=f"Bench team {index + 1:02d}")
        clinician = _staff(factories.ClinicianFactory, email=f"clinician{index + 1:02d}@bench.test")
        care_team_add_member(team=team, user=clinician)
        care_team_add_member(team=team, user=radiologist)
        clinicians.append(clinician)
        teams.append(team)
    versions, older = {}, {}
    for index, disease in enumerate(DISEASE_KEYS):
        older[disease] = _model_version(
            disease, "bench-1", active=False, seed=100 + index, at=now - dt.timedelta(days=300)
        )
        versions[disease] = _model_version(
            disease, "bench-2", active=True, seed=200 + index, at=now - dt.timedelta(days=90)
        )
    imaging_version = ImagingModelVersion.objects.create(
        name="chest-xray",
        version="bench-1",
        artifact_dir="chest-xray/bench-1",
        sha256="e" * 64,
        manifest={"classes": ["normal", "pneumonia"], "normal_class": "normal"},
        is_synthetic=True,
        is_active=True,
    )
    _heartbeats(now)
    rules = [(rule["id"], rule["title"]) for rule in rule_catalogue()]
    return World(
        admin=admin,
        researcher=researcher,
        radiologist=radiologist,
        clinicians=clinicians,
        teams=teams,
        versions=versions,
        older_versions=older,
        imaging_version=imaging_version,
        rules=rules,
        now=now,
    )


def world_grow(world: World, *, to: int) -> None:
    """Add patients (and everything of theirs) until the world has `to`."""
    while world.patients < to:
        count = min(BATCH, to - world.patients)
        with transaction.atomic():
            _add_patients(world, first=world.patients, count=count)
        world.patients += count


def world_check(world: World) -> None:
    """What the bulk inserts must keep true, checked the way the app reads it: one latest
    assessment per (patient, disease) assessed; a clinician sees exactly their team's patients."""
    from django.db.models import Count

    from patients.selectors import patients_visible_to

    pairs = RiskAssessment.objects.values("patient_id", "disease").distinct().count()
    latest = RiskAssessment.objects.filter(is_latest=True)
    doubled = latest.values("patient_id", "disease").annotate(n=Count("id")).filter(n__gt=1)
    if latest.count() != pairs or doubled.exists():
        raise AssertionError("is_latest is not exactly one per (patient, disease)")
    seen = patients_visible_to(user=world.clinicians[0]).count()
    expected = len(range(0, world.patients, TEAMS))
    if seen != expected:
        raise AssertionError(f"clinician 1 sees {seen} patients, expected {expected}")


def _ago(world: World, days: float) -> dt.datetime:
    return world.now - dt.timedelta(days=days)


def _add_patients(world: World, *, first: int, count: int) -> None:
    rng = world.rng
    today = timezone.localdate()
    people = []
    for i in range(first, first + count):
        given, family = rng.choice(GIVEN), f"{rng.choice(FAMILY)}{i}"
        mrn = f"BENCH{i:08d}"
        draw = rng.random()
        sex = "female" if draw < 0.49 else "male" if draw < 0.98 else "other"
        dob = today - dt.timedelta(days=int(365.25 * rng.uniform(18, 96)))
        people.append(
            Patient(
                mrn=mrn,
                mrn_index=blind_index(mrn, purpose="mrn"),
                given_name=given,
                family_name=family,
                name_index=blind_index(f"{given} {family}", purpose="name"),
                family_name_index=blind_index(family, purpose="family_name"),
                date_of_birth=dob,
                sex=sex,
                is_synthetic=True,
                created_at=_ago(world, rng.uniform(180, 720)),
            )
        )
    created = Patient.objects.bulk_create(people, batch_size=500)
    if any(p.pk is None for p in created):  # a backend without RETURNING
        by_mrn = dict(
            Patient.objects.filter(mrn_index__in=[p.mrn_index for p in created]).values_list(
                "mrn_index", "pk"
            )
        )
        for p in created:
            p.pk = by_mrn[p.mrn_index]
    _grant(world, created, first=first)
    observations: list[Observation] = []
    assessments: list[RiskAssessment] = []
    studies: list[Study] = []
    recommendations: list[Recommendation] = []
    feedback: list[Feedback] = []
    for offset, patient in enumerate(created):
        i = first + offset
        observations += _observations(world, patient)
        assessments += _assessments(world, patient)
        if rng.random() < STUDIES_PER_PATIENT or (i % TEAMS == 0 and i < TEAMS * 5):
            studies.append(_study(world, patient, i))
        recommendations += _recommendations(world, patient)
        if i % 20 == 0:
            rule_id, _ = rng.choice(world.rules)
            accepted = rng.random() < 0.6
            feedback.append(
                Feedback(
                    rule_id=rule_id,
                    outcome=Feedback.Outcome.ACCEPTED if accepted else Feedback.Outcome.DECLINED,
                    reason_code="" if accepted else rng.choice(("patient-declined", "other")),
                    card_uuid=uuid.uuid4(),
                    at=_ago(world, rng.uniform(0, 365)),
                )
            )
    Observation.objects.bulk_create(observations, batch_size=1000)
    RiskAssessment.objects.bulk_create(assessments, batch_size=1000)
    Study.objects.bulk_create(studies, batch_size=500)
    Recommendation.objects.bulk_create(recommendations, batch_size=1000)
    Feedback.objects.bulk_create(feedback, batch_size=1000)
    if world.focus_patient is None:
        world.focus_patient = created[0]  # team 0's first patient: always has a study


def _grant(world: World, patients: list[Patient], *, first: int) -> None:
    """The M2M row and the team Group's guardian grants that care_team_add_patient makes."""
    through = Patient.care_teams.through
    content_type = ContentType.objects.get_for_model(Patient)
    perms = list(
        Permission.objects.filter(
            content_type=content_type, codename__in=("view_patient", "change_patient")
        )
    )
    links, grants = [], []
    for offset, patient in enumerate(patients):
        team = world.teams[(first + offset) % TEAMS]
        links.append(through(patient_id=patient.pk, careteam_id=team.pk))
        grants += [
            GroupObjectPermission(
                group_id=team.group_id,
                permission=perm,
                content_type=content_type,
                object_pk=str(patient.pk),
            )
            for perm in perms
        ]
    through.objects.bulk_create(links, batch_size=1000)
    GroupObjectPermission.objects.bulk_create(grants, batch_size=1000)


def _observations(world: World, patient: Patient) -> list[Observation]:
    rng = world.rng
    rows = []
    for code, mean, sd in (*VITALS, *VITALS, *LABS):
        kind = OBSERVATION_TYPES[code]
        value = min(max(rng.gauss(mean, sd), kind.low), kind.high)
        at = _ago(world, rng.uniform(0, 182))
        rows.append(
            Observation(
                patient=patient,
                code=code,
                display=kind.display,
                value=round(value, 1),
                unit=kind.unit,
                effective_at=at,
                recorded_at=at,
                source=Source.DEMO,
            )
        )
    return rows


def _assessments(world: World, patient: Patient) -> list[RiskAssessment]:
    rng = world.rng
    rows = []
    dob: dt.date = patient.date_of_birth
    for disease in DISEASE_KEYS:
        if rng.random() < NOT_ASSESSED_SHARE:
            continue
        times = [rng.uniform(0, 60)]
        if rng.random() < OLDER_SHARE:
            times.append(times[0] + rng.uniform(20, 120))
        for rank, days in enumerate(times):
            created_at = _ago(world, days)
            version = world.versions[disease] if days < 90 else world.older_versions[disease]
            day = timezone.localtime(created_at).date()
            age = day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))
            age = max(0, min(age, RiskAssessment.SUBJECT_AGE_CAP))
            inputs = {
                f.name: {
                    "value": _feature_value(f, rng, age=age, sex=patient.sex),
                    "unit": f.unit,
                    "source": "record",
                    "observed_at": created_at.isoformat(),
                    "entered": False,
                }
                for f in DISEASES[disease].features
            }
            probability = round(min(max(rng.betavariate(1.6, 5.0), 0.001), 0.999), 4)
            bands = version.manifest["bands"]
            band = (
                "high"
                if probability >= bands["high"]
                else "moderate"
                if probability >= bands["moderate"]
                else "low"
            )
            outcome = ""
            if rng.random() < OUTCOME_SHARE:
                outcome = "confirmed" if rng.random() < probability else "ruled_out"
            rows.append(
                RiskAssessment(
                    patient=patient,
                    model_version=version,
                    inputs=inputs,
                    probability=probability,
                    risk_band=band,
                    contributions={
                        "space": "log-odds",
                        "base": -1.2,
                        "features": {name: round(rng.uniform(-0.3, 0.3), 3) for name in inputs},
                    },
                    created_at=created_at,
                    outcome=outcome,
                    outcome_date=day + dt.timedelta(days=30) if outcome else None,
                    outcome_recorded_at=created_at + dt.timedelta(days=30) if outcome else None,
                    disease=disease,
                    subject_sex=patient.sex,
                    subject_age=age,
                    is_latest=rank == 0,
                )
            )
    return rows


def _study(world: World, patient: Patient, i: int) -> Study:
    rng = world.rng
    where = rng.random()
    days = (
        rng.uniform(0, 1)
        if where < 0.35
        else rng.uniform(1, 14)
        if where < 0.75
        else rng.uniform(14, 180)
    )
    uploaded = _ago(world, days)
    draw = rng.random()
    if days < 0.05 and draw < 0.5:
        state = Study.State.QUEUED if draw < 0.3 else Study.State.RUNNING
    else:
        state = Study.State.FAILED if draw < 0.06 else Study.State.DONE
    queue_s = rng.lognormvariate(math.log(4), 0.8)
    work_s = rng.lognormvariate(math.log(6), 0.4)
    fields: dict[str, Any] = {}
    if state in (Study.State.DONE, Study.State.FAILED):
        fields.update(
            claimed_at=uploaded + dt.timedelta(seconds=queue_s),
            finished_at=uploaded + dt.timedelta(seconds=queue_s + work_s),
            attempts=1 if state == Study.State.DONE else 2,
        )
    if state == Study.State.RUNNING:
        fields.update(claimed_at=uploaded + dt.timedelta(seconds=queue_s), attempts=1)
    if state == Study.State.DONE:
        abnormal = round(rng.betavariate(1.2, 3.0), 4)
        fields.update(
            model_version=world.imaging_version,
            probabilities={"normal": round(1 - abnormal, 4), "pneumonia": abnormal},
            predicted_class="pneumonia" if abnormal >= 0.5 else "normal",
            abnormal_probability=abnormal,
            timings={
                "queue": round(queue_s * 1000),
                "decode": 40,
                "preprocess": 25,
                "classify": round(work_s * 600),
                "heatmap": round(work_s * 300),
                "render": 30,
                "write": 10,
            },
        )
    if state == Study.State.FAILED:
        code, reason = rng.choice(FAILURES)
        fields.update(failure_code=code, failure_reason=reason)
    return Study(
        patient=patient,
        uploaded_by=world.radiologist,
        uploaded_at=uploaded,
        enqueued_at=uploaded,
        kind=Study.Kind.PNG,
        file_name=f"bench/{uuid.uuid4().hex}.png",
        original_name="",
        size_bytes=250_000,
        sha256=f"{i:064x}",
        modality=rng.choice(("CR", "DX", "CT", "MR")),
        body_part="CHEST",
        rows=1024,
        columns=1024,
        dicom_phi={},
        state=state,
        **fields,
    )


def _recommendations(world: World, patient: Patient) -> list[Recommendation]:
    rng = world.rng
    rows = []
    for rank, (rule_id, title) in enumerate(rng.sample(world.rules, min(2, len(world.rules)))):
        draw = rng.random()
        status = (
            Recommendation.Status.PENDING
            if draw < 0.6
            else Recommendation.Status.ACCEPTED
            if draw < 0.85
            else Recommendation.Status.DECLINED
        )
        decided = status != Recommendation.Status.PENDING
        created = _ago(world, rng.uniform(0, 365))
        rows.append(
            Recommendation(
                patient=patient,
                rule_id=rule_id,
                title=title,
                action=f"{title}.",
                category="prevention",
                urgency=rng.choice((1, 2, 3)),
                strength="strong",
                evidence="A",
                source={"guideline": "Bench", "year": 2024, "section": "1", "url": ""},
                reasons=[{"text": "Benchmark world", "code": "", "value": "", "at": ""}],
                rank=rank,
                fingerprint=uuid.uuid4().hex,
                status=status,
                created_at=created,
                evaluated_at=created,
                decided_at=(
                    min(created + dt.timedelta(days=rng.uniform(0, 20)), world.now)
                    if decided
                    else None
                ),
                decided_by=world.clinicians[0] if decided else None,
                decline_reason=(
                    rng.choice(("not_applicable", "patient_declined", "already_done", "other"))
                    if status == Recommendation.Status.DECLINED
                    else ""
                ),
            )
        )
    return rows
