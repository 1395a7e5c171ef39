"""Writing exports safely: spreadsheet formulas neutralised, files owner-only.

Every CSV and XLSX Panel Manager writes goes through this module, so there is one
place that gets two things right:

* **Formula injection** (OWASP "CSV Injection"): a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return is evaluated by Excel, LibreOffice
  and Google Sheets as a formula (``=HYPERLINK(...)`` in a patient's name becomes a
  live link). Such cells are written with a leading single quote, which spreadsheets
  show as text. Numbers stay numbers: only *text* cells are touched, so an age of -1
  or a numeric column is exported unchanged. XLSX cells are always written as string
  or number cells, never as formulas.
* **Owner-only files** (see ``private_file``): exports hold patient data, so they are
  created 0600 (owner read/write) where the operating system supports it.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FORMULA_TRIGGERS",
    "neutralise",
    "safe_row",
    "write_csv",
    "csv_writer",
    "write_xlsx",
    "private_file",
    "make_private",
    "make_private_dir",
    "atomic_replace",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

OWNER_FILE = 0o600
OWNER_DIR = 0o700


def neutralise(value: Any) -> Any:
    """``value`` as a spreadsheet will read it safely: a formula-like text gets a leading quote.

    Only strings are changed; numbers, dates and None pass through untouched.
    """
    if isinstance(value, str) and value and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _blank_missing(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    # pandas NA / NaT without importing pandas here
    if type(value).__name__ in ("NAType", "NaTType"):
        return ""
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """One row ready for ``csv.writer``: missing values blank, formula-like text neutralised."""
    return [neutralise(_blank_missing(v)) for v in row]


class _SafeWriter:
    """A ``csv.writer`` look-alike that neutralises every cell it writes."""

    def __init__(self, handle: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str], **kwargs: Any) -> _SafeWriter:
    """Like ``csv.writer(handle)`` but every cell is neutralised (use for streams such as stdout)."""
    return _SafeWriter(handle, **kwargs)


def make_private(path: str | os.PathLike[str]) -> None:
    """chmod 0600; silently does nothing where permissions are not POSIX (Windows) or not ours."""
    _chmod_where_posix(path, OWNER_FILE)


def _chmod_where_posix(path: str | os.PathLike[str], mode: int) -> None:
    if os.name != "posix":
        return
    try:
        os.chmod(path, mode)
    except OSError:
        pass


def _owned(path: Path) -> bool:
    try:
        return os.name == "posix" and path.stat().st_uid == os.getuid()
    except OSError:
        return False


def prepare_private_database(path: Path) -> None:
    """Before SQLite opens ``path``: its folder and file exist and are owner-only.

    A folder Panel Manager creates is 0700. A missing database file is created empty
    with 0600 before SQLite touches it: SQLite gives its -wal and -shm files the
    permissions of the database file, so they are owner-only too. An existing registry
    (and its -wal/-shm) owned by this user is tightened to 0600; the folder of an
    existing registry is left alone (it may be a folder the user shares on purpose),
    except the default data folder, which is ours.
    """
    folder = path.parent
    if not folder.exists():
        # Create each missing level owner-only (umask would leave parents 0755).
        missing = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for level in reversed(missing):
            try:
                level.mkdir(mode=OWNER_DIR)
            except FileExistsError:
                continue
            make_private_dir(level)
    elif folder.name == "PanelManager" and _owned(folder):
        make_private_dir(folder)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), OWNER_FILE)
            os.close(fd)
        except FileExistsError:
            pass
    for item in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if _owned(item):
            make_private(item)


def make_private_dir(path: str | os.PathLike[str]) -> None:
    """chmod 0700 on a folder Panel Manager created for patient data (registry, backups)."""
    _chmod_where_posix(path, OWNER_DIR)


def create_private(path: str | os.PathLike[str]) -> None:
    """Make sure ``path`` exists as an owner-only file before another library writes it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), OWNER_FILE)
        os.close(fd)
    except OSError:
        return  # the writer that follows reports the problem in its own words
    if Path(path).is_file():  # never chmod a device such as /dev/null
        make_private(path)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; a no-op elsewhere or where not allowed)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def new_private_file(path: Path) -> None:
    """``path`` as a new, empty, owner-only file (a stale one from a crash is replaced)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), OWNER_FILE)
    os.close(fd)
    make_private(path)


@contextmanager
def atomic_replace(target: str | os.PathLike[str], *, suffix: str = ".part") -> Iterator[Path]:
    """Write ``target`` all or nothing: yields an empty owner-only ``<target><suffix>`` to fill.

    When the block ends normally the part file is fsynced and renamed over ``target``
    (``os.replace``, atomic on one file system) and the rename is made durable, so a file
    under its final name is always complete; on any error or interruption the part file
    is removed and ``target`` is left exactly as it was.
    """
    target = Path(target)
    part = target.with_name(target.name + suffix)
    new_private_file(part)
    try:
        yield part
        fsync_file(part)
        os.replace(part, target)
        fsync_dir(target.parent)
    except BaseException:
        try:
            part.unlink()
        except OSError:
            pass
        raise
    make_private(target)


@contextmanager
def owner_only_umask() -> Iterator[None]:
    """New files and folders created inside are owner-only (umask 077) on POSIX."""
    if os.name != "posix":
        yield
        return
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@contextmanager
def private_file(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing, created (or truncated) with owner-only permissions.

    The file is written to a ``.part`` sibling and moved over ``path`` when complete, so a
    crash never leaves a half-written export under the name the user chose.
    """
    target = Path(path)
    if target.exists() and not target.is_file():  # a device or pipe (/dev/stdout): write straight to it
        with open(target, mode, **kwargs) as handle:
            yield handle
        return
    tmp = target.with_name(target.name + ".part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, OWNER_FILE)
    make_private(tmp)  # an existing .part file keeps its old mode under os.open
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    make_private(target)


def write_csv(
    path: str | os.PathLike[str] | IO[str],
    header: Sequence[str],
    rows: Iterable[Iterable[Any]],
    *,
    encoding: str = "utf-8",
    lineterminator: str = "\r\n",
) -> int:
    """Write a CSV (to a path, owner-only, or to an open text stream); returns the number of rows."""
    count = 0

    def write(handle: IO[str]) -> None:
        nonlocal count
        writer = csv_writer(handle, lineterminator=lineterminator)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1

    if hasattr(path, "write"):
        write(path)  # type: ignore[arg-type]
    else:
        with private_file(path, "w", newline="", encoding=encoding) as handle:
            write(handle)
    return count


def write_frame_csv(frame, path: str | os.PathLike[str] | IO[str], *, encoding: str = "utf-8",
                    lineterminator: str = "\r\n") -> int:
    """A pandas DataFrame as a safe CSV (header = its columns, no index)."""
    return write_csv(path, [str(c) for c in frame.columns], frame.itertuples(index=False, name=None),
                     encoding=encoding, lineterminator=lineterminator)


def _xlsx_value(value: Any) -> Any:
    value = _blank_missing(value)
    if value == "":
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            value = value.item()
        except (AttributeError, ValueError):
            pass
    if type(value).__name__ == "Timestamp":
        value = value.to_pydatetime()
    return value


def write_xlsx(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Iterable[Any]],
    *,
    sheet_name: str = "Sheet1",
    widths: Sequence[float] | None = None,
    freeze_header: bool = True,
) -> int:
    """Write one sheet where every text cell is a string cell (never a formula); owner-only file."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name[:31]
    count = 0
    for r, row in enumerate([list(header), *rows], start=1):
        for c, raw in enumerate(row, start=1):
            value = _xlsx_value(raw)
            if value is None:
                continue
            if isinstance(value, (dt.date, dt.datetime, int, float, bool)):
                sheet.cell(row=r, column=c, value=value)
                continue
            text = str(value)
            cell = sheet.cell(row=r, column=c)
            # Assigning through .value would turn "=..." into a formula; set the string directly.
            cell._value = text
            cell.data_type = TYPE_STRING
            if text.startswith(FORMULA_TRIGGERS):
                cell.quotePrefix = True  # Excel shows it as typed and keeps it text on edit
        count = r - 1
    if widths:
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
    if freeze_header:
        sheet.freeze_panes = "A2"
    with private_file(path, "wb") as handle:
        workbook.save(handle)
    return count
