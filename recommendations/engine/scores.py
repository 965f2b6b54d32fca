"""Clinical scores the rules share. Django-free.

CHA2DS2-VASc (Lip et al., Chest 2010;137:263) as used by the 2023 ACC/AHA/ACCP/HRS atrial
fibrillation guideline: each component comes back with its points and the Reason (the record entry
and date) behind it, so a finding can show how the score was reached.
"""

from recommendations.engine.facts import ConditionFact, PatientFacts
from recommendations.engine.types import Reason

ScoreComponent = tuple[str, int, Reason]

# (component, points, ICD-10 prefixes, label)
_CONDITION_COMPONENTS: tuple[tuple[str, int, tuple[str, ...], str], ...] = (
    ("C", 1, ("I50",), "Congestive heart failure"),
    ("H", 1, ("I10", "I11", "I12", "I13", "I15"), "Hypertension"),
    ("D", 1, ("E10", "E11"), "Diabetes mellitus"),
    ("S2", 2, ("I63", "G45", "I74"), "Prior stroke, TIA or thromboembolism"),
    ("V", 1, ("I21", "I25", "I70", "I73.9"), "Vascular disease (MI, CAD, aortic or peripheral)"),
)


def _condition_reason(label: str, fact: ConditionFact, points: int) -> Reason:
    onset = f", onset {fact.onset.isoformat()}" if fact.onset else ""
    return Reason(
        text=f"{label}: {fact.display} ({fact.code}{onset}) (+{points})",
        code=fact.code,
        value=fact.code,
        at=fact.onset,
    )


def cha2ds2_vasc(facts: PatientFacts) -> tuple[int, list[ScoreComponent]]:
    """The CHA2DS2-VASc score and its scoring components (component letter, points, why).

    Only components that score are listed. A missing age scores no age points and an unknown sex
    no sex point, so the score is then a lower bound (callers decide whether that is enough)."""
    components: list[ScoreComponent] = []
    for letter, points, prefixes, label in _CONDITION_COMPONENTS:
        fact = facts.condition(*prefixes)
        if fact is not None:
            components.append((letter, points, _condition_reason(label, fact, points)))
    if facts.age is not None and facts.age >= 65:
        points = 2 if facts.age >= 75 else 1
        letter = "A2" if points == 2 else "A"
        band = ">= 75" if points == 2 else "65-74"
        components.append(
            (
                letter,
                points,
                Reason(
                    text=f"Age {facts.age} years ({band}) (+{points})",
                    value=f"{facts.age} years",
                    at=facts.today,
                ),
            )
        )
    if facts.sex == "female":
        components.append(("Sc", 1, Reason(text="Female sex (+1)", value="female", at=facts.today)))
    return sum(points for _, points, _ in components), components
