"""One run of an import over its stored file: pass 1 reads and checks every row into the staging
area (nothing is written to the record yet, so a file that turns out broken half-way, invalid JSON
or not UTF-8, fails with nothing imported), pass 2 writes patient by patient
(interop.importing.apply), then the rejected rows go into the sealed report.

Memory stays bounded: the file is read one authenticated chunk at a time (1 MiB), the parsers
yield one row or entry at a time, and the staging area keeps everything else on disk.
"""

import datetime as dt
import io
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from accounts.models import User
from interop.importing import files
from interop.importing.apply import Importer, Tally
from interop.importing.fhir import BundleError, bundle_records
from interop.importing.records import Rejection, RowError, Staged
from interop.importing.staging import Staging
from interop.importing.tabular import csv_records
from patients.models import CareTeam

Progress = Callable[[dict[str, int]], None]
PROGRESS_EVERY_S = 1.0


class ImportFileError(Exception):
    """The file as a whole cannot be imported; nothing of it was written. `message` quotes no
    value of the file."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImportResult:
    tally: Tally
    rows_total: int
    report_name: str
    skipped: dict[str, int] = field(default_factory=dict)


def _items(fmt: str, reader: files.PlainReader, *, today: dt.date) -> Iterator[Staged]:
    buffered = io.BufferedReader(reader)
    if fmt == files.FORMAT_FHIR:
        yield from bundle_records(buffered, today=today, counter=reader)
        return
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
    yield from csv_records(text, today=today)


def _stage(
    staging: Staging, name: str, fmt: str, *, today: dt.date, progress: Progress, size: int
) -> None:
    reader = files.PlainReader(name)
    reported = time.monotonic()
    try:
        for item in _items(fmt, reader, today=today):
            staging.add(item)
            if time.monotonic() - reported >= PROGRESS_EVERY_S:
                reported = time.monotonic()
                progress({"bytes_read": min(reader.bytes_read, size)})
    except BundleError as error:
        raise ImportFileError(error.code, error.message) from None
    except RowError as error:  # the CSV's header
        raise ImportFileError("csv_header", error.reason) from None
    except UnicodeDecodeError:
        raise ImportFileError(
            "encoding",
            f"The CSV file is not UTF-8 text (near byte {reader.bytes_read:,}): save it as "
            "CSV UTF-8 and import it again. Nothing was imported.",
        ) from None
    except files.StoredFileCorrupt:
        raise ImportFileError(
            "file_corrupt",
            "The stored file failed its integrity check (it was altered or damaged on disk); "
            "nothing was imported. Upload it again.",
        ) from None
    except FileNotFoundError:
        raise ImportFileError(
            "file_missing", "The stored file is missing; nothing was imported. Upload it again."
        ) from None
    finally:
        reader.close()
    progress({"bytes_read": size})


def _report_rows(rejections: Iterator[Rejection]) -> Iterator[tuple[object, ...]]:
    for r in rejections:
        yield (r.row, r.resource, r.ident, r.mrn, r.field, r.reason, r.value)


def import_stored_file(
    *,
    name: str,
    fmt: str,
    size: int,
    by: User,
    team: CareTeam,
    hold: Callable[[], None],
    progress: Progress,
    today: dt.date,
) -> ImportResult:
    """Import the sealed file `name` as `by`; see the module's docstring. `hold` guards each
    patient's transaction (apply.Importer); `progress` receives job fields to write (bytes_read,
    then rows_total, rows_done and the counts). Raises ImportFileError for a file that cannot be
    imported at all (nothing written), apply.LostClaim when another worker took the job."""
    folder = files.work_folder()
    staging = Staging(folder)
    try:
        _stage(staging, name, fmt, today=today, progress=progress, size=size)
        staging.finish()
        rows_total = staging.patients_count + staging.entries_count
        progress({"rows_total": rows_total})
        tally = Importer(
            staging=staging,
            by=by,
            team=team,
            hold=hold,
            report=lambda t: progress({**t.fields(), "rows_total": rows_total}),
        ).run()
        report_name = files.report_store(_report_rows(staging.rejections()))
        return ImportResult(tally, rows_total, report_name, dict(staging.skipped))
    finally:
        staging.close()
        shutil.rmtree(folder, ignore_errors=True)
