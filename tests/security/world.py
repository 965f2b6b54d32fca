"""The security tests' world: care team A with one member of each role and a patient holding one
object of every kind (record entries, a risk assessment, a study with its report, a
recommendation), care team B with a clinician, and signed-in clients for each principal."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from accounts.models import User
from accounts.services.notifications import notification_send
from imaging.models import ImagingModelVersion, Study
from interop.importing.files import report_store
from interop.models import ImportJob
from patients.models import Patient
from patients.services import care_team_add_member
from prediction.models import RiskAssessment
from recommendations.models import BenefitModelVersion, CdsClient, Recommendation
from support.models import Ticket
from support.services import ticket_open
from tests import factories
from tests.accounts.helpers import login_verified
from tests.dashboards.test_home import assess, recommendation, risk_version
from tests.imaging.conftest import png_bytes, study_make

# Patient A's identifiers: unique strings that must never reach anyone outside care team A.
CANARY = {
    "mrn": "MRN-CANARY-B7Q2",
    "given_name": "Xanthippe",
    "family_name": "Quagmirebloom",
    "date_of_birth": dt.date(1931, 2, 3),
    "phone": "+44 7700 900417",
    "email": "xanthippe.quagmirebloom@canary.test",
    "address": "17 Zephyrine Wharf, Lower Snodsbury",
}
SECRETS = [str(v) for v in CANARY.values()] + ["3 Feb 1931", "Feb. 3, 1931"]

# Who asks: outsiders first (they must change nothing), then care team A's members.
OUTSIDERS = ("anonymous", "other_team", "researcher", "admin_unverified")
INSIDERS = ("clinician", "nurse", "radiologist", "admin")
PRINCIPALS = OUTSIDERS + INSIDERS


@dataclass
class World:
    patient: Patient
    users: dict[str, User]
    objects: dict[str, Any] = field(default_factory=dict)

    def client(self, principal: str) -> Client:
        """A client signed in as `principal` (a fresh session each call: logout and 2FA routes
        may end the previous one)."""
        client = Client(raise_request_exception=False)
        user = self.users.get(principal)
        if user is None:
            return client
        if principal == "admin":
            login_verified(client, user)
        else:
            client.force_login(user)
        return client


def world_make() -> World:
    clinician: Any = factories.ClinicianFactory()
    nurse: Any = factories.NurseFactory()
    radiologist: Any = factories.RadiologistFactory()
    researcher: Any = factories.ResearcherFactory()
    team_a = factories.care_team_make(members=[clinician, nurse, radiologist])
    # The researcher sits on team A too: membership alone must not open identified records.
    care_team_add_member(team=team_a, user=researcher)
    other: Any = factories.ClinicianFactory()
    team_b = factories.care_team_make(members=[other])
    admin: Any = factories.AdminFactory()
    admin_unverified: Any = factories.AdminFactory()
    factories.TOTPDeviceFactory(user=admin_unverified)

    patient = factories.patient_make(team=team_a, by=clinician, sex="female", **CANARY)
    entries = {
        kind: factories.record_entry_make(kind, patient=patient, by=clinician)
        for kind in factories.RECORD_ENTRY_EXAMPLES
    }
    version = risk_version("diabetes")
    assessment: RiskAssessment = assess(version, patient, 0.8)
    # What risk_assess stores (the API's schema describes it); the dashboards' helper leaves it {}.
    assessment.contributions = {
        "space": "log-odds",
        "base": -1.0,
        "features": {"hba1c": 2.2, "bmi": 0.2},
        "calibration_adjustment": 0.0,
        "output": 1.4,
    }
    assessment.save(update_fields=["contributions"])
    imaging_version = ImagingModelVersion.objects.create(
        name="chest-ct",
        version="security-test",
        artifact_dir="chest-ct/security-test",
        sha256="0" * 64,
        manifest={"classes": ["normal", "nodule", "opacity"]},
        is_synthetic=True,
    )
    study: Study = study_make(patient=patient, by=radiologist, version=imaging_version)
    advice: Recommendation = recommendation(patient)
    benefit = BenefitModelVersion.objects.create(
        name="gbsg2_hormonal",
        version="security-test",
        artifact_dir="x",
        sha256="0" * 64,
        manifest={},
    )
    cds = CdsClient.objects.create(
        name="EHR", issuer="https://ehr.test", public_key_pem="-----BEGIN PUBLIC KEY-----"
    )
    note = notification_send(user=clinician, message="A result is in", url="/imaging/")
    # The clinician's "this result looks wrong" on patient A's assessment, with a screenshot.
    ticket: Ticket = ticket_open(
        by=clinician,
        category=Ticket.Category.AI_RESULT,
        subject="Risk looks too high",
        description="The estimate does not match the record.",
        risk_assessment=assessment.public_id,
        screenshot=[png_bytes()],
    )
    # The clinician's import into team A, done (its report: the header, nothing rejected).
    import_job = ImportJob.objects.create(
        created_by=clinician,
        care_team=team_a,
        format=ImportJob.Format.CSV,
        state=ImportJob.State.DONE,
        file_name="",
        size_bytes=0,
        sha256="0" * 64,
        report_name=report_store([]),
    )
    pending: Any = factories.PendingUserFactory()
    users = {
        "other_team": other,
        "researcher": researcher,
        "admin_unverified": admin_unverified,
        "clinician": clinician,
        "nurse": nurse,
        "radiologist": radiologist,
        "admin": admin,
    }
    return World(
        patient=patient,
        users=users,
        objects={
            "entries": entries,
            "risk_version": version,
            "assessment": assessment,
            "imaging_version": imaging_version,
            "study": study,
            "recommendation": advice,
            "benefit": benefit,
            "cds": cds,
            "notification": note,
            "ticket": ticket,
            "import_job": import_job,
            "pending": pending,
            "team_a": team_a,
            "team_b": team_b,
        },
    )


def leaked(text: str) -> list[str]:
    """Patient A's identifiers found in `text`."""
    return [secret for secret in SECRETS if secret in text]
