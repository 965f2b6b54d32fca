from typing import Any

from django.apps import AppConfig


class PredictionConfig(AppConfig):
    name = "prediction"
    verbose_name = "Risk prediction"

    def ready(self) -> None:
        # patients may not import prediction: the timeline learns of assessments from here.
        from patients.selectors import timeline_provider_register
        from prediction.selectors import assessment_timeline_items

        timeline_provider_register(assessment_timeline_items)

        # The record page's risk panel, by dotted path: prediction.views (and the ML libraries
        # behind it) loads with the first record page, not with every process.
        from patients.views import patient_panel_register

        patient_panel_register("prediction.views.risk_panel")

    def model_cards(self) -> list[dict[str, Any]]:
        """This app's active model cards. `manage.py model_cards` asks every app config that has
        this method (imaging adds its own), so no app imports another to list them."""
        from prediction.selectors import model_cards_active

        return model_cards_active()
