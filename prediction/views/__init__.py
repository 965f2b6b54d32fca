"""Pages of disease-risk prediction (HTML): `pages` holds the views, `wording` how they word and
format cards and results.

Access follows the patient pages: a patient is fetched through `patient_get_for_user` (a 404,
audited, for anyone outside the patient's care teams) and every page that shows PHI appends an
audit READ. Clinicians and admins assess and record outcomes; nurses and radiologists on the care
team see the panel and the results (they act on them) but do not run models, whose inputs are
clinical judgements (a stale value re-entered, a measurement typed in). Model cards hold no PHI:
any signed-in member of staff may read them.
"""

from prediction.views.pages import (
    assessment_create,
    assessment_detail,
    assessment_outcome,
    model_detail,
    model_list,
    risk_panel,
)
from prediction.views.wording import algorithm_name, card_context, percent

__all__ = [
    "algorithm_name",
    "assessment_create",
    "assessment_detail",
    "assessment_outcome",
    "card_context",
    "model_detail",
    "model_list",
    "percent",
    "risk_panel",
]
