"""The decline form of a recommendation card: a reason from the list, and a note that becomes
required when the reason is "other". recommendations.services.recommendation_decline checks the
same again (it is the rule); the form only gives the errors a place next to their field."""

from typing import Any
from uuid import UUID

from django import forms

from recommendations.models import DeclineReason

NOTE_MAX_CHARS = 500


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why do you decline it?",
        choices=DeclineReason.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a reason for declining.",
            "invalid_choice": "Choose one of the reasons listed.",
        },
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the reason is “Other”.",
    )

    def __init__(self, *args: Any, recommendation_id: UUID | None = None, **kwargs: Any) -> None:
        # Several cards share a page: ids unique per card, field names unchanged.
        if recommendation_id is not None:
            kwargs.setdefault("auto_id", f"id_%s_{recommendation_id.hex[:12]}")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["note"] = (data.get("note") or "").strip()
        if data.get("reason") == DeclineReason.OTHER and not data["note"]:
            self.add_error("note", "Say why in the note when the reason is “Other”.")
        return data
