from django.apps import AppConfig


class InteropConfig(AppConfig):
    """FHIR R4: read endpoints over the record and bulk import (see interop/resources.py)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "interop"
    verbose_name = "Interoperability (FHIR)"
