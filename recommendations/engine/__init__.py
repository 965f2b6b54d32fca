"""The recommendation engine: guideline rules over PatientFacts. Django-free.

`evaluate(facts)` runs every registered rule and returns its findings ranked (urgency, then strength
of evidence, then rule id) and de-duplicated (same `dedupe_key`: the best one kept, the others'
reasons merged into it). Rules live in recommendations.engine.rules, one module per topic; each
module registers its rules with `register`.
"""

import dataclasses
import logging
from collections.abc import Iterable

from recommendations.engine.facts import PatientFacts
from recommendations.engine.types import STRENGTH_ORDER, Finding, Rule

logger = logging.getLogger(__name__)

RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES:
        raise ValueError(f"Duplicate rule id {rule.id!r}.")
    RULES[rule.id] = rule
    return rule


def rules_all() -> list[Rule]:
    """Every rule, by id (importing the rule modules registers them)."""
    import recommendations.engine.rules  # noqa: F401  (registers the rules)

    return [RULES[key] for key in sorted(RULES)]


def rank_key(finding: Finding) -> tuple[int, int, str]:
    return (-int(finding.urgency), -STRENGTH_ORDER[finding.strength], finding.rule_id)


def rank_and_dedupe(findings: Iterable[Finding]) -> list[Finding]:
    ranked = sorted(findings, key=rank_key)
    kept: dict[str, Finding] = {}
    for finding in ranked:
        best = kept.get(finding.key)
        if best is None:
            kept[finding.key] = finding
            continue
        extra = tuple(r for r in finding.reasons if r not in best.reasons)
        kept[finding.key] = dataclasses.replace(best, reasons=best.reasons + extra)
    return sorted(kept.values(), key=rank_key)


def evaluate(facts: PatientFacts, rules: Iterable[Rule] | None = None) -> list[Finding]:
    """The findings of `rules` (default: all) for `facts`, ranked and de-duplicated.

    A rule that raises is a bug: it is logged by id (never with the patient's values) and skipped,
    so one broken rule cannot hide the others' recommendations."""
    findings: list[Finding] = []
    for rule in rules if rules is not None else rules_all():
        try:
            finding = rule.evaluate(facts)
        except Exception as error:
            logger.error(
                "Recommendation rule %s failed (%s); skipped.", rule.id, type(error).__name__
            )
            continue
        if finding is not None:
            findings.append(finding)
    return rank_and_dedupe(findings)
