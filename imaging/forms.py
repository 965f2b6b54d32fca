"""Forms of the imaging pages: the upload, the report a radiologist edits and signs, and the
worklist's filters. Validation of an image is by content, in imaging.services.study_submit: the
form only insists that a file came."""

from typing import Any

from django import forms

from imaging.models import Study
from imaging.selectors import MODALITY_NAMES

# What the file picker offers first; the server decides by content, whatever the name says.
UPLOAD_ACCEPT = ".png,.jpg,.jpeg,.dcm,.zip,image/png,image/jpeg,application/dicom,application/zip"
REPORT_MAX_CHARS = 20_000


class StudyUploadForm(forms.Form):
    image = forms.FileField(
        label="Image file",
        widget=forms.FileInput(attrs={"accept": UPLOAD_ACCEPT}),
        error_messages={
            "required": "Choose a file to upload.",
            "empty": "The file is empty.",
            "invalid": "No file was received; choose the file again.",
        },
    )


class ReportForm(forms.Form):
    text = forms.CharField(
        label="Report text",
        max_length=REPORT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        error_messages={"required": "The report cannot be empty."},
    )
    confirm = forms.BooleanField(required=False, label="I have reviewed the images and this report")


REPORTED_CHOICES = [("", "Signed or not"), ("unsigned", "Not signed yet"), ("signed", "Signed")]


class WorklistFilterForm(forms.Form):
    """GET filters of the worklist (none of them is PHI, so they may sit in the URL)."""

    modality = forms.ChoiceField(label="Modality", required=False)
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *Study.State.choices]
    )
    reported = forms.ChoiceField(label="Report", required=False, choices=REPORTED_CHOICES)

    def __init__(self, *args: Any, modalities: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["modality"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "All modalities")] + [
            (m, f"{MODALITY_NAMES.get(m, m)} ({m})" if MODALITY_NAMES.get(m, m) != m else m)
            for m in modalities
        ]

    def filters(self) -> dict[str, str]:
        """The valid filters (a value that is not offered is ignored, not an error page)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned.get(name) or "" for name in ("modality", "state", "reported")}
