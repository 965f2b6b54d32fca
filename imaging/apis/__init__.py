"""Imaging studies over REST, under /api/v1/imaging/ (Django REST framework).

Thin views, as in prediction.apis: an input serializer validates, one service or selector does the
work, imaging.serializers renders. A study is reached through `study_get_for_user` (404, audited,
for another care team) and so are its files and its report; every response showing PHI appends an
audit READ (the FHIR export an EXPORT), and the services audit their writes.

A submit answers 202 at once with the study's status URL: the analysis runs in a worker. The body
is multipart (`patient`, `image`); a Content-Length past the upload limit is refused with a 413
before a byte of it is parsed. Clinicians, radiologists and admins upload; only radiologists edit
and sign reports (others get 403, like the pages).
"""

from imaging.apis.reports import (
    ImagingModelListApi,
    StudyReportApi,
    StudyReportFhirApi,
    StudyReportSignApi,
)
from imaging.apis.studies import (
    StudyDeidentifiedApi,
    StudyDetailApi,
    StudyFileApi,
    StudyListApi,
)

__all__ = [
    "ImagingModelListApi",
    "StudyDeidentifiedApi",
    "StudyDetailApi",
    "StudyFileApi",
    "StudyListApi",
    "StudyReportApi",
    "StudyReportFhirApi",
    "StudyReportSignApi",
]
