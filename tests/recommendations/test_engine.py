"""The engine: ranking, de-duplication, a failing rule is skipped, the rule registry."""

import logging
import re

import pytest

from recommendations.engine import evaluate, rank_and_dedupe, register, rules_all
from recommendations.engine.facts import PatientFacts
from recommendations.engine.types import Finding, Reason, Rule, Source, Strength, Urgency
from tests.recommendations.rules.helpers import RECENT, facts, study

SOURCE = Source("Test guideline", 2024, "1.1")


def finding(
    rule_id: str,
    urgency: Urgency = Urgency.ROUTINE,
    strength: Strength = "moderate",
    dedupe_key: str = "",
    reasons: tuple[Reason, ...] = (),
) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=rule_id,
        action="Do it.",
        category="test",
        urgency=urgency,
        strength=strength,
        evidence="Grade A",
        source=SOURCE,
        reasons=reasons or (Reason(text=f"reason of {rule_id}"),),
        dedupe_key=dedupe_key,
    )


def rule(rule_id: str, result: Finding | None = None, error: Exception | None = None) -> Rule:
    def evaluate_rule(_: PatientFacts) -> Finding | None:
        if error is not None:
            raise error
        return result

    return Rule(rule_id, rule_id, "test", SOURCE, "A test rule.", evaluate_rule)


def test_ranked_by_urgency_then_strength_then_id():
    findings = [
        finding("b-routine-strong", Urgency.ROUTINE, "strong"),
        finding("z-urgent-weak", Urgency.URGENT, "weak"),
        finding("c-soon-moderate", Urgency.SOON, "moderate"),
        finding("a-soon-moderate", Urgency.SOON, "moderate"),
        finding("d-soon-strong", Urgency.SOON, "strong"),
        finding("e-routine-weak", Urgency.ROUTINE, "weak"),
    ]
    ranked = [f.rule_id for f in rank_and_dedupe(findings)]
    assert ranked == [
        "z-urgent-weak",
        "d-soon-strong",
        "a-soon-moderate",
        "c-soon-moderate",
        "b-routine-strong",
        "e-routine-weak",
    ]


def test_same_dedupe_key_keeps_the_best_and_merges_reasons():
    shared = Reason(text="LDL 190 mg/dL", code="13457-7", value="190 mg/dL", at=RECENT)
    best = finding(
        "statin-high", Urgency.SOON, "strong", "statin", (Reason(text="ASCVD 22 %"), shared)
    )
    other = finding(
        "statin-diabetes", Urgency.ROUTINE, "strong", "statin", (Reason(text="Diabetes"), shared)
    )
    unrelated = finding("smoking", Urgency.ROUTINE, "weak")
    result = rank_and_dedupe([other, unrelated, best])
    assert [f.rule_id for f in result] == ["statin-high", "smoking"]
    merged = result[0]
    assert [r.text for r in merged.reasons] == ["ASCVD 22 %", "LDL 190 mg/dL", "Diabetes"]


def test_evaluate_skips_a_raising_rule_and_logs_it_without_values(caplog):
    ok = rule("works", finding("works"))
    broken = rule("broken-rule", error=ValueError("HbA1c 8.1 % for patient Jane Roe"))
    with caplog.at_level(logging.ERROR, logger="recommendations.engine"):
        result = evaluate(facts(), rules=[broken, ok])
    assert [f.rule_id for f in result] == ["works"]
    [record] = [r for r in caplog.records if r.name == "recommendations.engine"]
    message = record.getMessage()
    assert "broken-rule" in message and "ValueError" in message
    assert "8.1" not in message and "Jane" not in message
    assert record.exc_info is None or "8.1" not in str(record.exc_info)


def test_evaluate_drops_rules_that_do_not_apply():
    assert evaluate(facts(), rules=[rule("never")]) == []


def test_rule_ids_are_unique_kebab_case_and_registration_refuses_duplicates():
    rules = rules_all()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id) for rule_id in ids)
    with pytest.raises(ValueError, match="Duplicate"):
        register(rules[0])


def test_the_specialty_rules_are_registered():
    ids = {r.id for r in rules_all()}
    assert {
        "af-anticoagulation",
        "breast-mass-high-malignancy-risk",
        "breast-brca-genetics-referral",
        "breast-adjuvant-endocrine-therapy",
        "imaging-nodule-followup",
        "imaging-opacity-followup",
    } <= ids


@pytest.mark.parametrize("registered", rules_all(), ids=lambda r: r.id)
def test_every_rule_has_a_real_source(registered):
    source = registered.source
    assert source.guideline.strip() and source.section.strip()
    assert 1990 <= source.year <= 2030
    assert registered.title.strip() and registered.description.strip()
    assert registered.category.strip()


def test_no_rule_fails_on_an_empty_or_a_busy_patient(caplog):
    specialty = {"anticoagulation", "breast", "imaging"}
    empty = PatientFacts(today=RECENT, age=None, sex="unknown")
    assert [f for f in evaluate(empty) if f.category in specialty] == []
    busy = facts(
        age=78,
        sex="female",
        conditions=("I48.0", "I10"),
        risks={"breast_cancer": 0.9},
        imaging=(study(), study(predicted_class="opacity")),
    )
    result = evaluate(busy)
    ids = [f.rule_id for f in result]
    assert "af-anticoagulation" in ids and "breast-mass-high-malignancy-risk" in ids
    # Nodule and opacity share the imaging dedupe key: one finding, both studies' reasons.
    imaging = [f for f in result if f.dedupe_key == "imaging-followup"]
    assert len(imaging) == 1
    texts = " ".join(r.text for r in imaging[0].reasons)
    assert "nodule" in texts and "opacity" in texts
    assert ids.index("breast-mass-high-malignancy-risk") < ids.index("af-anticoagulation")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
