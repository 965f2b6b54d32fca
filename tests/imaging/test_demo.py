"""Demo studies: synthetic phantoms written as real uploads (DICOM CT/MR with HU and spacing,
PNG radiographs) that pass the intake, and the idempotent seeding command."""

import io

import numpy as np
import pytest
from django.core.management import call_command

from accounts.models import Role
from imaging.demo import demo_uploads
from imaging.intake import intake_inspect, pixels_decode
from imaging.models import Study
from patients.demo import DEMO_EMAIL_DOMAIN
from tests import factories


def test_demo_uploads_pass_the_intake_with_their_metadata(tmp_path):
    uploads = demo_uploads([("Doe^Jane", "DEMO-1"), ("Roe^Rick", "DEMO-2"), ("Poe^Ann", "DEMO-3")])
    kinds = {}
    for name, data, label in uploads:
        path = tmp_path / name
        path.write_bytes(data)
        intake = intake_inspect(path)
        pixels = pixels_decode(path, intake.kind)
        kinds[intake.modality] = (intake, pixels)
        assert label in ("normal", "nodule", "opacity")
        assert np.isfinite(pixels.frames).all()
    ct, ct_pixels = kinds["CT"]
    assert ct.kind == "dicom" and ct.pixel_spacing_mm == (3.0, 3.0)
    assert ct.phi["patient_name"] == "Doe^Jane" and ct.body_part == "CHEST"
    assert ct_pixels.frames.min() < -900  # air in Hounsfield units
    assert kinds["OT"][0].kind == "png"
    assert kinds["MR"][0].kind == "dicom"


@pytest.mark.django_db
def test_seeding_queues_studies_once(django_capture_on_commit_callbacks):
    clinician = factories.ClinicianFactory(email=f"{Role.CLINICIAN.value}@{DEMO_EMAIL_DOMAIN}")
    radiologist = factories.RadiologistFactory(
        email=f"{Role.RADIOLOGIST.value}@{DEMO_EMAIL_DOMAIN}"
    )
    team = factories.care_team_make(members=[clinician, radiologist])
    for _ in range(4):
        factories.patient_make(team=team, by=clinician, is_synthetic=True)
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=False) as published:
        call_command("seed_imaging_demo", "--count", "3", stdout=out)
        call_command("seed_imaging_demo", stdout=out)

    assert Study.objects.filter(state=Study.State.QUEUED).count() == 3
    assert len(published) == 3
    assert "nothing added" in out.getvalue()
