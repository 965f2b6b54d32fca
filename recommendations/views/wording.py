"""How a recommendation reads on the pages: urgency and strength words, the reasons with their
dates, the source, the benefit estimate as a sentence and the decision line. No queries."""

import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.models import User
from recommendations.forms import DeclineForm
from recommendations.models import DeclineReason, Recommendation

URGENCY = {3: ("urgent", "Urgent"), 2: ("soon", "Soon"), 1: ("routine", "Routine")}
DECLINE_LABELS = {str(value): str(label) for value, label in DeclineReason.choices}


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _percent(value: Any) -> float:
    """A probability (0 to 1) in percent (percentage points for a difference)."""
    return float(value) * 100


def benefit_words(benefit: dict[str, Any] | None) -> str:
    """The benefit estimate as the sentence a clinician reads, or "" when there is none."""
    if not benefit:
        return ""
    try:
        horizon = float(benefit.get("horizon_years") or 5)
        with_, without = _percent(benefit["rfs_with"]), _percent(benefit["rfs_without"])
        diff = _percent(benefit["difference"])
        low, high = (_percent(x) for x in benefit["ci_difference"])
    except (KeyError, TypeError, ValueError):
        return ""
    cohort = str(benefit.get("cohort") or "GBSG2 trial cohort")
    model = str(benefit.get("model") or "")
    return (
        f"Estimated benefit for patients like this one: {horizon:g}-year recurrence-free "
        f"survival {with_:.0f} % with hormonal therapy vs {without:.0f} % without (difference "
        f"{diff:.1f} points, 95% CI {low:.1f}\u2013{high:.1f}); {cohort}"
        + (f", {model}" if model else "")
    )


def _user_name(user: User | None) -> str:
    if user is None:
        return "someone"
    return user.full_name or user.email


def decision_words(rec: Recommendation) -> str:
    """ "Accepted by Dr X on 3 May 2026" / "Declined by Dr X on 3 May 2026: <reason>"."""
    if rec.status == Recommendation.Status.PENDING or rec.decided_at is None:
        return ""
    day = timezone.localtime(rec.decided_at).strftime("%-d %b %Y")
    who = _user_name(rec.decided_by)
    if rec.status == Recommendation.Status.ACCEPTED:
        return f"Accepted by {who} on {day}"
    reason = DECLINE_LABELS.get(rec.decline_reason, rec.decline_reason or "no reason given")
    return f"Declined by {who} on {day}: {reason}"


def card_context(
    rec: Recommendation,
    *,
    may_decide: bool,
    form: DeclineForm | None = None,
    error: str = "",
) -> dict[str, Any]:
    """What one recommendation card shows (templates/recommendations/_card.html)."""
    level, urgency = URGENCY.get(rec.urgency, ("routine", "Routine"))
    source = rec.source or {}
    reasons = []
    for reason in rec.reasons or []:
        text = str(reason.get("text", ""))
        value = str(reason.get("value") or "")
        code = str(reason.get("code") or "")
        at = _day(reason.get("at"))
        # Rules often write the value, code and date into the sentence: each is shown once.
        reasons.append(
            {
                "text": text,
                "value": value if any(c.isdigit() for c in value) and value not in text else "",
                "code": code if any(c.isdigit() for c in code) and code not in text else "",
                "at": at if at and at.isoformat() not in text else None,
            }
        )
    return {
        "rec": rec,
        "level": level,
        "urgency": urgency,
        "strength": str(rec.strength).capitalize(),
        "source": {
            "guideline": source.get("guideline", ""),
            "year": source.get("year", ""),
            "section": source.get("section", ""),
            "url": source.get("url", ""),
        },
        "reasons": reasons,
        "suppressed": rec.suppressed or [],
        "benefit": benefit_words(rec.benefit),
        "decision": decision_words(rec),
        "decline_note": rec.decline_note,
        "may_decide": may_decide and rec.is_current,
        "form": form or DeclineForm(recommendation_id=rec.public_id),
        "decline_open": form is not None and bool(form.errors),
        "error": error,
    }
