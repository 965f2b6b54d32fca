"""Properties of the CSV escaper (healthmentor/csv_safe.py, OWASP "CSV Injection"): no cell of
text ever begins with a formula trigger (= + - @ tab CR); escaping is one leading quote and is
undone by removing it; NULs are dropped; numbers stay numbers; and a document written by
csv_rows reads back, cell for cell, whatever quotes, commas and line breaks the text holds."""

import csv
import datetime as dt
import io
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from healthmentor.csv_safe import FORMULA_TRIGGERS, csv_cell, csv_rows, csv_text

TRIGGERS = sorted(FORMULA_TRIGGERS)
texts = st.one_of(
    st.text(),
    st.builds(lambda t, rest: t + rest, st.sampled_from(TRIGGERS), st.text()),
    st.builds(lambda rest: "\x00" + rest, st.sampled_from(TRIGGERS).map(lambda t: t + "cmd")),
    st.sampled_from(['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "=1,2\r\n=3"]),
)
numbers = st.one_of(
    st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=False)
)
values = st.one_of(texts, numbers, st.none(), st.booleans(), st.dates(), st.datetimes(), st.uuids())


@settings(max_examples=500, deadline=None)
@given(value=texts)
def test_text_never_starts_with_a_trigger_and_escaping_is_one_quote(value):
    cell = csv_cell(value)
    assert isinstance(cell, str) and "\x00" not in cell
    assert not cell or cell[0] not in FORMULA_TRIGGERS
    plain = value.replace("\x00", "")
    if plain and plain[0] in FORMULA_TRIGGERS:
        assert cell == "'" + plain
    else:
        assert cell == plain


@settings(max_examples=300, deadline=None)
@given(value=numbers)
def test_numbers_are_written_as_the_numbers_they_are(value):
    cell = csv_cell(value)
    assert cell == str(value)
    if not isinstance(value, float) or value == value:  # NaN is not equal to itself
        assert type(value)(cell) == value


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_any_value_gives_a_safe_string(value):
    cell = csv_cell(value)
    assert isinstance(cell, str) and "\x00" not in cell
    is_number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if not is_number and cell:
        assert cell[0] not in FORMULA_TRIGGERS
    if isinstance(value, dt.date):
        assert cell == value.isoformat()


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(values, min_size=1, max_size=6), max_size=6))
def test_a_document_reads_back_cell_for_cell(rows):
    document = csv_text(rows)
    assert document == "".join(csv_rows(rows))
    parsed = list(csv.reader(io.StringIO(document, newline="")))
    assert parsed == [[csv_cell(value) for value in row] for row in rows]
