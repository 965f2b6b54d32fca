"""Recommendations fixtures: the treatment-benefit model trained once per run (benefit_fixtures)."""

from tests.recommendations.benefit_fixtures import (  # noqa: F401  (fixtures)
    benefit_artifact_folder,
    benefit_model,
)
