"""The patient record over REST, under /api/v1/ (Django REST framework).

Thin views: an input serializer validates, one service or selector does the work, an output
serializer (patients.serializers) renders. Access to a patient goes through
`patient_get_for_user` (404 for anyone outside the patient's care teams, audited as a denial);
role permissions are checked by the services (403). Every response that shows PHI appends an
audit READ; writes are audited by the services.

`patients` holds the patients themselves and the observation catalog, `records` the entries of
their record (one list and one detail view per kind), `base` what both share. API tokens are the
accounts app's (accounts.apis); the base view and the parser are healthmentor.api's.
"""

from patients.apis.patients import (
    CareTeamListApi,
    ObservationCodeListApi,
    PatientDetailApi,
    PatientListApi,
    PatientTimelineApi,
)
from patients.apis.records import RECORD_APIS, RECORD_KINDS, RecordKind

__all__ = [
    "RECORD_APIS",
    "RECORD_KINDS",
    "CareTeamListApi",
    "ObservationCodeListApi",
    "PatientDetailApi",
    "PatientListApi",
    "PatientTimelineApi",
    "RecordKind",
]
