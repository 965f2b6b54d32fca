"""The recommendation pages (HTML): the record page's panel, one recommendation and the
decisions on it, what awaits a decision, the rule catalogue and the benefit model card.
URL names and views: recommendations/urls.py."""

from recommendations.views.pages import (
    awaiting,
    benefit_model,
    patient_panel,
    recommendation_accept,
    recommendation_decline,
    recommendation_detail,
    recommendations_panel,
    rule_list,
)

__all__ = [
    "awaiting",
    "benefit_model",
    "patient_panel",
    "recommendation_accept",
    "recommendation_decline",
    "recommendation_detail",
    "recommendations_panel",
    "rule_list",
]
