"""Guideline rules, one module per topic; importing this package registers them all."""

from recommendations.engine.rules import (  # noqa: F401
    anticoagulation,
    blood_pressure,
    breast,
    diabetes,
    imaging_followup,
    lifestyle,
    lipids,
    smoking,
)
