"""The help center's guides: one per task a user does in the portal.

Each guide is a template under templates/help/guides/, names the screenshots it shows (PNG files
under static/help/screenshots/, regenerated from the real pages by `manage.py help_screenshots`)
and the portal URL names it is about, so that the "?" of a page opens the guide of that page.

Search runs over the rendered text of the guides in plain Python: a few dozen pages of text, built
once per process at the first search.
"""

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from accounts.models import Role

SCREENSHOT_DIR = "help/screenshots"  # under static/

ALL_ROLES: frozenset[str] = frozenset(Role.values)
CARE_ROLES: frozenset[str] = frozenset({Role.CLINICIAN, Role.NURSE, Role.RADIOLOGIST, Role.ADMIN})


@dataclass(frozen=True)
class Guide:
    """A guide page. `roles`: whose task it is (listed first for them; everyone may read it).
    `url_names`: "namespace:name" of the portal pages it explains (each at most one guide)."""

    slug: str
    title: str
    roles: frozenset[str]
    summary: str
    template: str
    screenshots: tuple[str, ...]
    url_names: tuple[str, ...]

    def screenshot_path(self, name: str) -> str:
        """The static path of one of its screenshots."""
        return f"{SCREENSHOT_DIR}/{name}.png"


def _guide(
    slug: str,
    title: str,
    roles: frozenset[str],
    summary: str,
    screenshots: tuple[str, ...],
    url_names: tuple[str, ...],
) -> Guide:
    return Guide(
        slug=slug,
        title=title,
        roles=roles,
        summary=summary,
        template=f"help/guides/{slug}.html",
        screenshots=screenshots,
        url_names=url_names,
    )


GUIDES: tuple[Guide, ...] = (
    _guide(
        "find-a-patient",
        "Find a patient and read the record",
        CARE_ROLES,
        "Search your care teams' patients by MRN or name, open the record and find your way "
        "around its sections.",
        ("patient-list", "patient-record"),
        ("patients:list", "patients:detail", "patients:create", "patients:edit"),
    ),
    _guide(
        "record-observations",
        "Record vital signs, laboratory results and other entries",
        frozenset({Role.CLINICIAN, Role.NURSE}),
        "Add a measurement with its unit and time, and the other entries of the record: "
        "conditions, medications, allergies, lifestyle, family history, genetic markers.",
        ("observation-form",),
        (
            "patients:observation_add",
            "patients:condition_add",
            "patients:medication_add",
            "patients:allergy_add",
            "patients:lifestyle_add",
            "patients:family_history_add",
            "patients:genetic_marker_add",
        ),
    ),
    _guide(
        "risk-assessment",
        "Run a risk assessment and read its result",
        frozenset({Role.CLINICIAN, Role.NURSE}),
        "Estimate a disease risk from the record, then read the probability, the risk band, the "
        "flagging threshold, what drives the estimate and how far to trust it.",
        ("risk-panel", "risk-assess-form", "risk-result", "risk-model-card"),
        (
            "prediction:assess",
            "prediction:assessment",
            "prediction:assessment_outcome",
            "prediction:model_list",
            "prediction:model_detail",
        ),
    ),
    _guide(
        "imaging-study",
        "Upload an imaging study and read its result",
        frozenset({Role.CLINICIAN, Role.RADIOLOGIST}),
        "Upload a PNG, JPEG or DICOM image, follow the analysis, and read the AI findings: "
        "class probabilities, the Grad-CAM heatmap and the lesion outline.",
        ("imaging-upload", "imaging-result"),
        (
            "imaging:upload",
            "imaging:study",
            "imaging:study_status",
            "imaging:model_list",
            "imaging:model_detail",
        ),
    ),
    _guide(
        "worklist-and-reports",
        "Review the worklist and sign a report",
        frozenset({Role.RADIOLOGIST}),
        "Work through the imaging worklist by urgency, correct the AI draft report, save it and "
        "sign it.",
        ("imaging-worklist", "imaging-report"),
        ("imaging:worklist", "imaging:report", "imaging:report_sign", "imaging:report_fhir"),
    ),
    _guide(
        "recommendations",
        "Act on recommendations",
        frozenset({Role.CLINICIAN}),
        "Read a guideline recommendation, its reasons and its citation, and accept it or decline "
        "it with a reason.",
        ("recommendations-card", "recommendations-awaiting"),
        (
            "recommendations:awaiting",
            "recommendations:detail",
            "recommendations:rules",
            "recommendations:benefit_model",
        ),
    ),
    _guide(
        "dashboards",
        "Read the dashboards",
        ALL_ROLES,
        "Your patients at a glance, a patient's trends, population risk, model quality and "
        "calibration, imaging operations and how recommendations are received.",
        ("dashboards-home", "dashboards-models"),
        (
            "dashboards:index",
            "dashboards:home",
            "dashboards:patient",
            "dashboards:population",
            "dashboards:models",
            "dashboards:model_quality",
            "dashboards:imaging_ops",
            "dashboards:acceptance",
        ),
    ),
    _guide(
        "research-data",
        "Work with de-identified data (researchers)",
        frozenset({Role.RESEARCHER}),
        "Download the de-identified data set as CSV or FHIR and what it leaves out.",
        ("research-export",),
        ("patients:export",),
    ),
    _guide(
        "your-account",
        "Your account: profile, two-factor authentication, API token",
        ALL_ROLES,
        "Change your name, turn on two-factor authentication, keep backup codes, create an API "
        "token, and read your notifications.",
        ("account-profile",),
        (
            "accounts:profile",
            "accounts:otp_enroll",
            "accounts:otp_disable",
            "accounts:backup_codes",
            "accounts:api_token_create",
            "accounts:api_token_revoke",
            "accounts:notifications",
        ),
    ),
    _guide(
        "administration",
        "Administer users, care teams and models",
        frozenset({Role.ADMIN}),
        "Invite colleagues and approve registrations, set roles, manage care teams, enforce "
        "two-factor authentication and activate model versions in Django admin.",
        ("admin-invite", "admin-pending"),
        ("accounts:invite_create", "accounts:pending_users"),
    ),
    _guide(
        "import-patients",
        "Import patients and observations from a file",
        frozenset({Role.CLINICIAN, Role.ADMIN}),
        "Bring patients and their results in from another system: a FHIR Bundle or the CSV "
        "template, checked row by row, with a report of every row refused.",
        (),
        ("interop:imports", "interop:import"),
    ),
    _guide(
        "getting-help",
        "Getting help",
        ALL_ROLES,
        "Where to ask when the guides do not answer your question: support tickets.",
        (),
        ("support:tickets", "support:ticket_new", "support:ticket"),
    ),
)

GUIDES_BY_SLUG: dict[str, Guide] = {g.slug: g for g in GUIDES}
GUIDE_BY_URL_NAME: dict[str, Guide] = {name: g for g in GUIDES for name in g.url_names}


def guide_get(slug: str) -> Guide | None:
    return GUIDES_BY_SLUG.get(slug)


def guide_for_url_name(url_name: str | None) -> Guide | None:
    """The guide about the page named `url_name` ("namespace:name"), if any."""
    return GUIDE_BY_URL_NAME.get(url_name or "")


def guides_grouped_for(role: str) -> list[dict[str, Any]]:
    """[{"role", "label", "guides", "yours"}]: the guides of each role, `role`'s group first; a
    guide appears under every role whose task it is."""
    order = [role, *(r for r in Role.values if r != role)] if role in Role.values else Role.values
    labels: dict[str, str] = {
        Role.CLINICIAN: "clinicians",
        Role.RADIOLOGIST: "radiologists",
        Role.NURSE: "nurses",
        Role.RESEARCHER: "researchers",
        Role.ADMIN: "administrators",
    }
    groups = []
    for r in order:
        guides = [g for g in GUIDES if r in g.roles and g.roles != ALL_ROLES]
        if guides:
            groups.append({"role": r, "label": labels[r], "guides": guides, "yours": r == role})
    everyone = [g for g in GUIDES if g.roles == ALL_ROLES]
    groups.append({"role": "all", "label": "everyone", "guides": everyone, "yours": False})
    return groups


# --- search -------------------------------------------------------------------------------------

_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_WORDS = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without accents: "Ischémie" and "ischemie" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class _Indexed:
    guide: Guide
    text: str  # the guide's visible text, whitespace collapsed
    folded_title: str
    folded_summary: str
    folded_text: str


@functools.cache
def _index() -> tuple[_Indexed, ...]:
    entries = []
    for guide in GUIDES:
        body = render_to_string(guide.template, {"guide": guide})
        text = " ".join(html.unescape(_TAGS.sub(" ", body)).split())
        entries.append(
            _Indexed(
                guide=guide,
                text=text,
                folded_title=fold(guide.title),
                folded_summary=fold(guide.summary),
                folded_text=fold(text),
            )
        )
    return tuple(entries)


def guide_text(guide: Guide) -> str:
    """The visible text of a guide (as searched)."""
    return next(e.text for e in _index() if e.guide == guide)


@dataclass(frozen=True)
class SearchHit:
    guide: Guide
    score: int
    snippet: str


def _snippet(entry: _Indexed, pattern: re.Pattern[str], width: int = 90) -> str:
    found = pattern.search(entry.folded_text)
    if found is None:
        return entry.guide.summary
    at, term = found.start(), found.group()
    # Folding keeps one character per character for the Latin text of the guides, so the offset
    # found in the folded text is the offset in the original.
    start = max(0, at - width)
    end = min(len(entry.text), at + len(term) + width)
    return (
        ("…" if start else "")
        + entry.text[start:end].strip()
        + ("…" if end < len(entry.text) else "")
    )


def guides_search(query: str, *, limit: int = 20) -> list[SearchHit]:
    """Guides containing every word of `query` (case and accents ignored), best first: a word in
    the title counts most, then in the summary, then each time it occurs in the text."""
    terms = [t for t in _WORDS.findall(fold(query)) if len(t) > 1]
    if not terms:
        return []
    # A term matches the start of a word: "sign" finds "signs" and "signed", not "design".
    patterns = [re.compile(r"\b" + re.escape(term)) for term in terms]
    hits = []
    for entry in _index():
        score = 0
        for pattern in patterns:
            in_text = len(pattern.findall(entry.folded_text))
            in_title = bool(pattern.search(entry.folded_title))
            in_summary = bool(pattern.search(entry.folded_summary))
            if not (in_text or in_title or in_summary):
                break
            score += 20 * in_title + 8 * in_summary + min(in_text, 10)
        else:
            hits.append(
                SearchHit(guide=entry.guide, score=score, snippet=_snippet(entry, patterns[0]))
            )
    hits.sort(key=lambda h: (-h.score, GUIDES.index(h.guide)))
    return hits[:limit]
