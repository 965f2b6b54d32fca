"""The population dashboard: the risk of one disease across the patients a user may see, from
each patient's latest assessment, as a probability histogram and by age band and sex.

Clinicians, nurses and radiologists see their care teams' patients; administrators and
researchers see every patient, researchers as de-identified aggregates: counts only, and no cell
under SMALL_CELL patients (`suppress_small_cells`, which also hides the next smallest cell
wherever a hidden one could be worked out from a total).
"""

from collections.abc import Hashable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse

from accounts.models import User
from dashboards.charts import BAND_COLOURS, PALETTE, Chart, Table, axis, series_style
from dashboards.privacy import SMALL_CELL, SUPPRESSED_NOTE, Sum, suppress_small_cells
from dashboards.views.base import ALL_ROLES, ChartView, user_is_researcher
from dashboards.views.tabs import dashboard_tabs
from patients.models import Patient
from patients.selectors import patients_visible_to
from prediction.selectors import (
    AGE_BANDS,
    POPULATION_BINS,
    POPULATION_GROUPINGS,
    disease_title,
    model_versions_active,
    model_versions_of,
    population_risk_counts,
    population_size,
)

BANDS = (("low", "Low"), ("moderate", "Moderate"), ("high", "High"))
SEX_LABELS = {
    "female": "Female",
    "male": "Male",
    "other": "Other",
    "unknown": "Unknown",
    "": "Not recorded",
}
SYNTHETIC_NOTE = (
    "The model behind these figures was trained on synthetic data: the probabilities show the "
    "method and are not clinically validated."
)


def _grid(
    counts: dict[tuple[Any, str], int], groups: Sequence[Any], *, suppress: bool
) -> dict[Hashable, int | None]:
    """Cells ("cell", group, band), row totals ("row", group), band totals ("band", band) and
    ("all",), small ones suppressed when `suppress`."""
    bands = [band for band, _ in BANDS]
    values: dict[Hashable, int] = {}
    for g in groups:
        for b in bands:
            values[("cell", g, b)] = counts.get((g, b), 0)
        values[("row", g)] = sum(counts.get((g, b), 0) for b in bands)
    for b in bands:
        values[("band", b)] = sum(counts.get((g, b), 0) for g in groups)
    values[("all",)] = sum(values[("band", b)] for b in bands)
    if not suppress:
        return dict(values)
    # Each group's row, each band's series (its total, in the "All" row, goes first), and the
    # margins, which keep the number of patients in view whenever it is 5 or more.
    sums: list[Sum] = [([("cell", g, b) for b in bands], ("row", g), False) for g in groups]
    sums += [([("cell", g, b) for g in groups], ("band", b), True) for b in bands]
    sums += [
        ([("row", g) for g in groups], ("all",), False),
        ([("band", b) for b in bands], ("all",), False),
    ]
    return suppress_small_cells(values, sums)


def _percent(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(100 * part / whole, 1)


# --- the chart endpoint -------------------------------------------------------------------------


def population_of(user: User) -> QuerySet[Patient] | None:
    """The patients whose figures `user` sees: None (everyone) for administrators and
    researchers (de-identified), else the patients of the user's care teams."""
    if user.is_portal_admin or user_is_researcher(user):
        return None
    return patients_visible_to(user=user)


def population_words(user: User) -> str:
    """Whose figures these are, in words: "The latest ... assessment of <these words>"."""
    if user.is_portal_admin:
        return "every patient"
    if user_is_researcher(user):
        return "every patient (de-identified counts)"
    return "each patient of your care teams"


class PopulationChart(ChartView):
    """data/population/<disease>/<by>/: the latest assessment of each patient the user sees,
    counted by probability decile ("histogram"), age band ("age") or sex ("sex") and risk band."""

    roles = ALL_ROLES

    def chart(self) -> Chart:
        disease, by = self.kwargs["disease"], self.kwargs["by"]
        if by not in POPULATION_GROUPINGS:
            raise Http404("No such grouping.")
        versions = {v.pk: v for v in model_versions_of(disease=disease)}
        if not any(v.is_active for v in versions.values()):
            raise Http404("No active model for this disease.")
        patients = population_of(self.user)
        researcher = user_is_researcher(self.user)
        title = disease_title(disease)
        found = population_risk_counts(disease=disease, by=by, patients=patients)
        counts: dict[tuple[Any, str], int] = {}
        per_version: dict[int, int] = {}
        for row in found:
            key = (row["group"], row["band"])
            counts[key] = counts.get(key, 0) + row["n"]
            per_version[row["version_id"]] = per_version.get(row["version_id"], 0) + row["n"]
        groups, labels, noun = self._groups(by, {row["group"] for row in found})
        grid = _grid(counts, groups, suppress=researcher)
        summary = {
            "patients": population_size(patients=patients),
            "assessed": sum(per_version.values()),
            "versions": [
                {
                    "version": versions[pk].version,
                    "algorithm": versions[pk].algorithm,
                    "synthetic": versions[pk].is_synthetic,
                    "active": versions[pk].is_active,
                    "n": n,
                }
                for pk, n in sorted(
                    per_version.items(),
                    key=lambda kv: (not versions[kv[0]].is_active, versions[kv[0]].version),
                )
            ],
        }

        datasets = [
            {
                "label": band_label,
                "data": [grid[("cell", g, band)] for g in groups],
                "backgroundColor": BAND_COLOURS[band],
                "borderColor": BAND_COLOURS[band],
                "borderWidth": 1,
            }
            for band, band_label in BANDS
        ]
        empty_text = f"No patient in view has a risk assessment for {title} yet."
        if grid[("all",)] is None:
            empty_text = f"Fewer than 5 patients have a risk assessment for {title}: not shown."
        hidden = self._hidden_bar(grid, groups) if researcher else []
        if any(hidden):
            datasets.append(
                {
                    "label": "Band not shown (fewer than 5)",
                    "data": hidden,
                    **series_style(len(PALETTE) - 1, fill=False),
                    "pointStyle": "rect",
                    "borderWidth": 1,
                }
            )
        if not grid[("all",)]:
            datasets = [{**d, "data": []} for d in datasets]
        rows: list[list[Any]] = []
        for g, label in zip(groups, labels, strict=True):
            rows.append(self._row(label, grid, ("cell", g), ("row", g)))
        rows.append(self._row("All", grid, None, ("all",)))
        notes = self._notes(summary, grid, researcher, versions=by == "histogram")
        x_title = {
            "histogram": "Probability (latest assessment)",
            "age": "Age band (years, on the day of the assessment)",
            "sex": "Sex",
        }[by]
        return Chart(
            type="bar",
            title={
                "histogram": f"{title}: distribution of risk",
                "age": f"{title}: risk by age band",
                "sex": f"{title}: risk by sex",
            }[by],
            description=(
                f"The latest {title} risk assessment of "
                f"{population_words(self.user)}, counted per {noun} and coloured by risk band; "
                "all assessments to date."
            ),
            labels=labels,
            datasets=datasets,
            options={
                "scales": {
                    "x": axis(x_title, stacked=True),
                    "y": axis("Patients", minimum=0, stacked=True),
                },
                "plugins": {"tooltip": {"mode": "index", "intersect": False}},
            },
            table=Table(
                columns=[noun.capitalize(), "Low", "Moderate", "High", "Total", "% high"],
                rows=rows,
                caption=f"Patients per {noun} and risk band ({title}).",
            ),
            notes=notes,
            empty_text=empty_text,
        )

    @staticmethod
    def _groups(by: str, present: set[Any]) -> tuple[list[Any], list[str], str]:
        """(group keys, their labels, what a group is) in display order."""
        if by == "histogram":
            keys = list(range(POPULATION_BINS))
            width = 100 // POPULATION_BINS
            labels = [f"{k * width}-{(k + 1) * width} %" for k in keys]
            return keys, labels, "probability bin"
        if by == "age":
            ages: list[Any] = [label for label, _, _ in AGE_BANDS]
            if None in present:
                ages.append(None)
            return ages, [a if a is not None else "Not recorded" for a in ages], "age band"
        sexes: list[Any] = ["female", "male"]
        sexes += [s for s in ("other", "unknown", "") if s in present]
        sexes += sorted(s for s in present if s not in SEX_LABELS)
        return sexes, [SEX_LABELS.get(s, str(s).capitalize()) for s in sexes], "sex"

    @staticmethod
    def _row(
        label: str, grid: dict[Hashable, int | None], cell: tuple[Any, ...] | None, total: Any
    ) -> list[Any]:
        if cell is None:
            bands = [grid[("band", b)] for b, _ in BANDS]
        else:
            bands = [grid[(*cell, b)] for b, _ in BANDS]
        return [label, *bands, grid[total], _percent(bands[-1], grid[total])]

    @staticmethod
    def _hidden_bar(grid: dict[Hashable, int | None], groups: Sequence[Any]) -> list[int]:
        """Per group, the patients in its hidden cells, where its total is shown (the table
        gives it away as the total less the cells shown): the bar keeps its full height."""
        out = []
        for g in groups:
            total = grid[("row", g)]
            shown = [grid[("cell", g, b)] for b, _ in BANDS]
            out.append(0 if total is None else total - sum(n or 0 for n in shown))
        return out

    @staticmethod
    def _notes(
        summary: dict[str, Any],
        grid: dict[Hashable, int | None],
        researcher: bool,
        *,
        versions: bool,
    ) -> list[str]:
        """Suppressed cells, patients without an assessment, the synthetic caveat and (when
        `versions`: on the distribution chart) the model versions behind the figures."""
        notes: list[str] = []
        if researcher and any(v is None for v in grid.values()):
            notes.append(SUPPRESSED_NOTE)
        missing = summary["patients"] - summary["assessed"]
        if researcher and 0 < missing < SMALL_CELL:
            notes.append("Fewer than 5 patients in view have no assessment for this disease.")
        elif researcher and grid[("all",)] is None:  # the total would give the assessed away
            notes.append(f"{missing:,} patients in view have no assessment for this disease.")
        else:
            notes.append(
                f"{missing:,} of the {summary['patients']:,} patients in view have no assessment "
                "for this disease; they are not counted."
            )
        if versions and summary["versions"]:
            parts = []
            # One small count would follow from the others and the total: show none then.
            small = researcher and any(v["n"] < SMALL_CELL for v in summary["versions"])
            for v in summary["versions"]:
                words = "counts not shown" if small else f"{v['n']:,} assessments"
                state = "active" if v["active"] else "no longer active"
                parts.append(f"{v['version']} ({v['algorithm']}, {state}): {words}")
            notes.append("Model versions behind these figures: " + "; ".join(parts) + ".")
        if any(v["synthetic"] for v in summary["versions"]):
            notes.append(SYNTHETIC_NOTE)
        return notes


# --- the page -----------------------------------------------------------------------------------


@login_required
def population(request: HttpRequest) -> HttpResponse:
    """The population dashboard of one disease (`?disease=`, default the first active model)."""
    user = request.user
    assert isinstance(user, User)
    versions = list(model_versions_active())
    diseases = [(v.disease, disease_title(v.disease)) for v in versions]
    wanted = request.GET.get("disease") or (diseases[0][0] if diseases else "")
    if diseases and wanted not in {d for d, _ in diseases}:
        raise Http404("No active model for this disease.")
    version = next((v for v in versions if v.disease == wanted), None)
    charts = []
    if version is not None:
        charts = [
            {
                "url": reverse("dashboards:data_population", args=[wanted, by]),
                "id": f"population-{by}",
                "title": title,
                "wide": by == "histogram",
            }
            for by, title in (
                ("histogram", "Distribution of risk"),
                ("age", "Risk by age band"),
                ("sex", "Risk by sex"),
            )
        ]
    context = {
        "dashboard_tabs": dashboard_tabs(user, "dashboards:population"),
        "diseases": [
            {"key": d, "title": t, "url": f"?disease={d}", "current": d == wanted}
            for d, t in diseases
        ],
        "disease": wanted,
        "disease_title": disease_title(wanted) if wanted else "",
        "version": version,
        "population_words": population_words(user),
        "researcher": user_is_researcher(user),
        "charts": charts,
    }
    return render(request, "dashboards/population.html", context)


urlpatterns = [
    path("population/", population, name="population"),
    path(
        "data/population/<str:disease>/<str:by>/",
        PopulationChart.as_view(),
        name="data_population",
    ),
]
