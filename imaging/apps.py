from typing import Any

from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        # patients may not import imaging: the timeline and the record page learn of it here.
        from imaging.selectors import study_timeline_items
        from patients.selectors import timeline_provider_register
        from patients.views import patient_panel_register

        timeline_provider_register(study_timeline_items)
        patient_panel_register("imaging.views.imaging_panel")
        # Celery workers write their heartbeat rows (imaging.heartbeat); the web never sends these.
        from imaging.heartbeat import heartbeat_signals_connect

        heartbeat_signals_connect()
        # /health/ready goes red when the active model's files no longer match their digests.
        from healthmentor.health import READINESS_CHECKS
        from imaging.loading import active_bundle_verify

        READINESS_CHECKS["imaging_model"] = active_bundle_verify

    def model_cards(self) -> list[dict[str, Any]]:
        """The active imaging model's card (asked for by `manage.py model_cards`)."""
        from imaging.selectors import model_cards_active

        return model_cards_active()
