"""The imaging model cards: what each registered CNN bundle classifies, the data it learnt from,
how accurate it was there, and its warning when it was trained on synthetic images. Cards hold no
PHI: any signed-in member of staff may read them."""

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import AuthedRequest
from imaging.models import ImagingModelVersion
from imaging.selectors import imaging_model_get, imaging_model_versions, model_card
from imaging.views.wording import card_metrics, class_label, kv_rows, warning_of


def card_context(version: ImagingModelVersion) -> dict[str, Any]:
    card = model_card(version)
    classes = [str(c) for c in card["classes"]]
    limitations = card["limitations"]
    return {
        **card,
        "version_obj": version,
        "warning": warning_of(version),
        "class_labels": [
            {"name": c, "label": class_label(c), "normal": c == card["normal_class"]}
            for c in classes
        ],
        "limitations": [limitations] if isinstance(limitations, str) else list(limitations),
        "measures": card_metrics(card["metrics"] or {}, classes),
        "training": kv_rows(card["training_data"]),
        "parameters": kv_rows(card["parameters"]),
        "has_segmenter": any("segment" in name for name in version.files or {}),
        "modalities": ", ".join(str(m) for m in card["modalities"] or []),
    }


@login_required
@require_GET
def model_list(request: AuthedRequest) -> HttpResponse:
    cards = [
        card_context(v) for v in imaging_model_versions().order_by("-is_active", "-registered_at")
    ]
    return render(request, "imaging/model_list.html", {"cards": cards})


@login_required
@require_GET
def model_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    version = imaging_model_get(public_id=public_id)
    return render(request, "imaging/model_detail.html", {"card": card_context(version)})
