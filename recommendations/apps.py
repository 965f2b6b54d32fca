from typing import Any

from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        # patients may not import recommendations: the timeline and the record page learn of it
        # here; record changes queue a refresh through signals.
        from patients.selectors import timeline_provider_register
        from patients.views import patient_panel_register
        from recommendations.selectors import recommendation_timeline_items
        from recommendations.signals import signals_connect

        timeline_provider_register(recommendation_timeline_items)
        patient_panel_register("recommendations.views.recommendations_panel")
        signals_connect()

    def model_cards(self) -> list[dict[str, Any]]:
        """The active treatment-benefit model's card (asked for by `manage.py model_cards`)."""
        from recommendations.benefit import benefit_model_cards_active

        return benefit_model_cards_active()
