"""Forms of the helpdesk pages. The checks that matter (the page path, the patient and result
the user may see, the screenshot's content) are the services'; these forms shape the input and
offer only the patients the user may see."""

from typing import Any

from django import forms

from patients.models import Patient
from support.models import DESCRIPTION_MAX, REPLY_MAX, SUBJECT_MAX, Ticket

SCREENSHOT_ACCEPT = ".png,.jpg,.jpeg,image/png,image/jpeg"
STATUS_FILTERS = [("", "All tickets"), ("active", "Needing attention"), *Ticket.Status.choices]


def patient_label(patient: Patient) -> str:
    return f"{patient.family_name}, {patient.given_name} · MRN {patient.mrn}"


class TicketForm(forms.Form):
    category = forms.ChoiceField(label="What is it about?", choices=Ticket.Category.choices)
    subject = forms.CharField(label="Subject", max_length=SUBJECT_MAX)
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What you did, what happened and what you expected. Please do not type names "
        "or MRNs: choose the patient below if it concerns one.",
    )
    patient = forms.ChoiceField(
        label="Patient",
        required=False,
        help_text="Only if the problem concerns one patient's record; support will see it.",
    )
    screenshot = forms.FileField(
        label="Screenshot",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": SCREENSHOT_ACCEPT}),
        help_text="A PNG or JPEG image, up to 5 MB. Stored encrypted, seen by you and support.",
    )
    page = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    risk_assessment = forms.UUIDField(required=False, widget=forms.HiddenInput)
    study = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, patients: list[Patient], linked_result: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if linked_result:
            # The result names its patient; the category is fixed.
            del self.fields["patient"]
            self.fields["description"].help_text = (
                "What looks wrong, and why you think so. Please do not type names or MRNs: the "
                "result already names its patient."
            )
            category = self.fields["category"]
            assert isinstance(category, forms.ChoiceField)
            category.choices = [(Ticket.Category.AI_RESULT, Ticket.Category.AI_RESULT.label)]
            return
        field = self.fields["patient"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", "No patient"),
            *((str(p.public_id), patient_label(p)) for p in patients),
        ]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply",
        max_length=REPLY_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    internal = forms.BooleanField(
        label="Internal note (administrators only; the user does not see it)", required=False
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=Ticket.Status.choices)


class TicketFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=STATUS_FILTERS, required=False)
    assigned = forms.ChoiceField(
        label="Assigned",
        required=False,
        choices=[("", "Anyone"), ("me", "To me"), ("nobody", "To nobody")],
    )

    def filters(self) -> dict[str, str]:
        """The valid filters (a value that is not offered is ignored, not an error page)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned.get(name) or "" for name in ("status", "assigned")}
