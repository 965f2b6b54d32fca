"""CSV cells that spreadsheets read as text, never as formulas (OWASP "CSV Injection").

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed
with a single quote, so Excel, LibreOffice and Google Sheets show it instead of evaluating it. The
writer quotes every field, so embedded quotes, commas and newlines cannot start a new cell or row.

Contract of :func:`csv_cell`:
- the result is a ``str`` that never begins with one of :data:`FORMULA_TRIGGERS`, except for
  a real number (``int``, ``float``, ``Decimal``; not ``bool``) which is written as the number it
  is (``-3`` stays ``-3``: a number is not a formula, and quoting it would corrupt the data);
- text that needed no escape is returned unchanged; escaped text is ``"'" + text``, so stripping
  one leading quote gives back the original;
- NUL characters are dropped (spreadsheets and many CSV readers truncate at them).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def csv_cell(value: object) -> str:
    """Return the text of one CSV cell, escaped against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    text = str(value).replace("\x00", "")
    if text and text[0] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def csv_rows(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield one CSV line per row (``\\r\\n`` ended, every field quoted), each cell escaped.

    Made for ``StreamingHttpResponse``: nothing is buffered beyond the current line.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """The whole CSV document for ``rows`` (small exports, tests)."""
    return "".join(csv_rows(rows))
