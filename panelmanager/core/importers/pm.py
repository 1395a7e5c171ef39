"""Reading practice-management exports (CSV or XLSX) into registry frames.

A PM export is whatever report the front desk could produce: a patient list, an
appointment list, or an appointment report carrying each patient's demographics. This
module finds the header row under any report title lines, works out the encoding and
the delimiter, matches the headers to fields through an import profile
(``profiles.py``; detected when none is named), cleans every column at once
(``normalize.py``) and hands ``writer.py`` a ``ParsedImport`` with the frames the file
can fill: ``patients``, ``visits``, ``providers`` and ``locations``.

Only the columns a file has become frame columns, so importing a file without e-mail
addresses never blanks the e-mails already in the registry. A row that cannot be
imported (no date of birth, a date that is not a date) is rejected with its physical
line number and a reason naming the column, the value and what was expected; report
footers, blank lines and open schedule slots are dropped without fuss. A file that
cannot be understood at all raises ``ImportFileError`` naming the file, what is
missing, the columns that were found and the ``--map``/``--profile`` option that
fixes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import String

from panelmanager.core.importers import normalize as nz
from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.importers.profiles import (
    FIELDS,
    OPEN_SLOT,
    Profile,
    VisitTypeRules,
    available_profiles,
    detect_profile,
    fallback_columns,
    header_key,
    load_profile,
    load_profiles,
    load_visit_types,
    match_columns,
)
from panelmanager.core.importers.writer import FILE, ROW, TABLES, ParsedImport, Rejection, row_hashes
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.resources import ResourceError

__all__ = ["FORMAT_CSV", "FORMAT_XLSX", "PmFileDescription", "describe_pm_file", "parse_pm_file"]

FORMAT_CSV = "pm-csv"
FORMAT_XLSX = "pm-xlsx"
HEADER_SCAN_ROWS = 25
CELL_LIMIT = 131072  # the csv module's default field limit: no field of a PM export comes near it
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and .xlsx files saved with a password
DELIMITERS = (",", "\t", ";", "|")
EARLIEST_DOB = pd.Timestamp("1900-01-01")
SHEET_NAMES = re.compile(r"patient|appoint|appt|schedul|visit|encounter|demograph", re.IGNORECASE)
FOOTER = re.compile(
    r"^(?:grand\s+total|total|totals|sub\s*total|count|record count|row count|report\b|generated|printed|"
    r"run date|run on|page\s+\d|end of report|confidential|\*{2,}|\d+\s+(?:rows?|records?|patients?|appointments?)\b)",
    re.IGNORECASE,
)
NAME_FIELDS = ("first_name", "middle_name", "last_name", "suffix", "full_name", "provider_first_name", "provider_last_name")
IDENTIFIERS = ("patient_id", "mrn", "appt_id")
# When a file holds no appointments, these appointment fields are read as patient fields.
PATIENT_ONLY_MEANING = {"provider": "pcp", "appt_status": "patient_status"}
# Words in a header that suggest which column a missing field might be (for error hints).
HINTS = {
    "patient_id": ("id", "acct", "account", "chart", "mrn", "no"),
    "mrn": ("mrn", "chart", "record"),
    "last_name": ("last", "surname", "name"),
    "full_name": ("name",),
    "dob": ("birth", "dob", "born"),
    "appt_date": ("date", "dos", "appt", "appointment"),
}


# --------------------------------------------------------------------------- reading cells


@dataclass
class _Grid:
    """One text file or one worksheet: every cell as text, with each record's physical line."""

    label: str
    cells: pd.DataFrame
    lines: np.ndarray
    excel: bool
    sheet: str | None = None
    codec: str | None = None
    codec_chosen_by: str | None = None


@dataclass
class _Table:
    """The data rows under a header: index = physical line, columns = header names."""

    label: str
    header_line: int
    columns: list[str]
    data: pd.DataFrame
    excel: bool
    sheet: str | None = None


def _utf16_without_bom(raw: bytes) -> str | None:
    """Text saved as UTF-16 with no byte-order mark ("Unicode text" from some Windows tools):
    every other byte of plain letters and digits is zero."""
    sample = raw[:8192]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.3 * half and even < 0.02 * half:
        codec = "utf-16-le"
    elif even > 0.3 * half and odd < 0.02 * half:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = raw[: len(raw) - len(raw) % 2].decode(codec)
    except UnicodeDecodeError:
        return None
    # An export is mostly plain characters (digits, dates, commas); binary data is not.
    sample_text = text[:4000]
    plain = sum(1 for ch in sample_text if " " <= ch <= "~" or ch in "\t\r\n")
    return text if plain >= 0.5 * len(sample_text) else None


# Code pages are named the way staff know them; the codec is what Python calls them.
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)",
                  "iso8859-1": "Latin-1 (ISO-8859-1)", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16",
                  "utf-32": "UTF-32", "mac-roman": "Mac Roman", "cp850": "DOS Latin (code page 850)"}
DEFAULT_SINGLE_BYTE = "cp1252"


def encoding_label(codec: str) -> str:
    """A codec as staff know it ("Windows-1252", "UTF-8")."""
    import codecs

    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return codec
    return ENCODING_NAMES.get(name, name.upper())


def check_encoding(codec: str | None, where: str) -> str | None:
    """The codec's canonical name, or ImportFileError naming ``where`` (the option or file)."""
    import codecs

    if not codec:
        return None
    try:
        return codecs.lookup(codec.strip()).name
    except LookupError:
        raise ImportFileError(
            f"{where}: '{codec}' is not a text encoding Panel Manager knows. Use utf-8, cp1252 (Windows-1252, "
            "what US practice-management systems write), latin-1, mac-roman or cp850."
        ) from None


def _windows_1252(raw: bytes) -> str:
    """Windows-1252 as Windows itself reads it: the five bytes the code page leaves undefined
    (0x81, 0x8D, 0x8F, 0x90, 0x9D) become the control characters of the same number, never an error."""
    return raw.decode("cp1252", errors="pm-cp1252-undefined")


def _undefined_as_latin1(exc: UnicodeDecodeError) -> tuple[str, int]:
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


import codecs as _codecs  # noqa: E402

_codecs.register_error("pm-cp1252-undefined", _undefined_as_latin1)


@dataclass
class _Decoded:
    text: str
    encoded: bytes  # the text as UTF-8, for the CSV parser
    codec: str  # what was used, e.g. "utf-8", "cp1252"
    chosen_by: str  # "detected", "profile", "option"


def _decode(raw: bytes, path: Path, *, forced: str | None = None, single_byte: str | None = None) -> _Decoded:
    """The file's text. ``forced`` (the --encoding option) is used as given; otherwise a byte-order
    mark decides, then UTF-8 when the bytes are valid UTF-8, then ``single_byte`` (a profile's
    declared encoding) or Windows-1252. Never a guess that could turn one Latin letter into
    another (Zoë into Zoė): single-byte text is read in the code page US PM systems write."""
    if forced:
        body = raw[3:] if forced in ("utf-8", "utf-8-sig") and raw.startswith(b"\xef\xbb\xbf") else raw
        try:
            text = body.decode(forced) if forced != "cp1252" else _windows_1252(body)
        except UnicodeDecodeError as exc:
            line = body[: exc.start].count(b"\n") + 1
            raise ImportFileError(
                f"{path}: line {line} cannot be read as {encoding_label(forced)} (byte 0x{body[exc.start]:02X}), "
                "the encoding named with --encoding. Leave --encoding out to detect it, or name the encoding the "
                "PM system wrote (utf-8, cp1252...)."
            ) from None
        return _Decoded(text.lstrip("\ufeff"), text.lstrip("\ufeff").encode("utf-8"), forced, "option")
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    if b"\x00" not in body[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _Decoded(body.decode("utf-8"), body, "utf-8", "detected")
        except UnicodeDecodeError:
            pass
    text, codec, chosen_by = _decode_text(raw, path, single_byte)
    return _Decoded(text, text.encode("utf-8"), codec, chosen_by)


def _decode_text(raw: bytes, path: Path, single_byte: str | None = None) -> tuple[str, str, str]:
    try:
        if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
            return raw.decode("utf-32"), "utf-32", "detected"
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16"), "utf-16", "detected"
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: the file says it is Unicode (UTF-16/32) text but byte {exc.start} cannot be read as such. "
            "Export the report again as CSV (CSV UTF-8 if the program offers it) and import the new file."
        ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw[:8192]:
        text = _utf16_without_bom(raw)
        if text is not None:
            return text, "utf-16", "detected"
        raise ImportFileError(
            f"{path}: this is not a text export (it holds binary data). Export the report from the PM "
            "system as CSV or Excel (.xlsx) and import that file."
        )
    try:
        return raw.decode("utf-8"), "utf-8", "detected"
    except UnicodeDecodeError:
        pass
    codec = single_byte or DEFAULT_SINGLE_BYTE
    try:
        text = _windows_1252(raw) if codec == "cp1252" else raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{path}: line {line} cannot be read as {encoding_label(codec)} (byte 0x{raw[exc.start]:02X}), the "
            "encoding the import profile names. Name the file's encoding with --encoding (utf-8, cp1252...)."
        ) from None
    sample = text[:20000]
    junk = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd")
    if sample and junk / len(sample) > 0.005:
        raise ImportFileError(
            f"{path}: this does not look like a text export (it is mostly unreadable characters). Export the "
            "report from the PM system as CSV or Excel (.xlsx) and import that file."
        )
    return text, codec, "profile" if single_byte else "detected"


def _sniff_delimiter(text: str) -> tuple[str, int]:
    """The delimiter that splits the most sample lines into the same number of fields."""
    head = text[: 1 << 20]
    lines = head.splitlines()
    if len(head) < len(text):
        lines = lines[:-1]  # cut short at the end of the sample
    # A line longer than the csv module's cell limit would stop the sniffer with an internal
    # error; such a line says nothing about the delimiter anyway (the row is rejected later).
    limit = csv.field_size_limit()
    lines = [line for line in lines[:200] if line.strip() and len(line) < limit][:60]
    best = (",", 1)
    best_score = (-1, -1)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter) if len(r) > 1]
        except csv.Error:  # a quoted cell running past the sample's end
            continue
        if not counts:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        score = (counts.count(mode), mode)
        if score > best_score:
            best_score = score
            best = (delimiter, max(counts))
    return best


def _read_text_grid(path: Path, raw: bytes, *, forced: str | None = None, single_byte: str | None = None) -> _Grid:
    decoded = _decode(raw, path, forced=forced, single_byte=single_byte)
    text, encoded = decoded.text, decoded.encoded
    if not text or text.isspace():
        raise ImportFileError(f"{path}: the file is empty. Export the report again and import the new file.")
    delimiter, width = _sniff_delimiter(text)
    for _attempt in range(8):
        try:
            cells = pd.read_csv(  # UTF-8 bytes: a StringIO would be encoded again, chunk by chunk
                io.BytesIO(encoded),
                encoding="utf-8",
                sep=delimiter,
                header=None,
                names=list(range(width)),
                index_col=False,
                dtype=object,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
            )
            break
        except pd.errors.ParserError as exc:
            wider = re.search(r"saw (\d+)", str(exc))
            if wider and int(wider.group(1)) > width:
                width = int(wider.group(1))
                continue
            raise ImportFileError(
                f"{path}: the file cannot be read as {_delimiter_name(delimiter)}-separated text ({exc}). "
                "A quote mark may be missing its partner; export the report again as CSV."
            ) from None
    else:  # pragma: no cover - pathological widths
        raise ImportFileError(f"{path}: rows have too many different numbers of columns to read.")
    # Quoted cells may hold line breaks: count them so row numbers stay physical lines.
    extra = np.zeros(len(cells), dtype=np.int64)
    physical = text.count("\n") + (0 if text.endswith("\n") else 1)
    if physical > len(cells):
        for column in cells.columns:
            values = cells[column].to_numpy(dtype=object)
            if "\n" in "\x1f".join(values):
                extra += cells[column].str.count("\n").to_numpy(dtype=np.int64)
    lines = 1 + np.arange(len(cells), dtype=np.int64) + np.concatenate(([0], np.cumsum(extra)[:-1])) if len(cells) else extra
    return _Grid(label=str(path), cells=cells, lines=lines, excel=False, codec=decoded.codec, codec_chosen_by=decoded.chosen_by)


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _read_excel_grids(path: Path, cancel: CancelToken) -> list[_Grid]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise ImportFileError(
            f"{path}: this Excel file cannot be opened ({type(exc).__name__}). Open it in Excel, save it "
            "again as .xlsx (or as CSV) and import that file."
        ) from None
    try:
        sheets = [ws for ws in workbook.worksheets if SHEET_NAMES.search(ws.title)] or workbook.worksheets[:1]
        grids = []
        for sheet in sheets:
            cancel.raise_if_cancelled()
            sheet.reset_dimensions()  # some writers record wrong dimensions; read every row there is
            try:
                rows = list(sheet.iter_rows(min_row=1, values_only=True))
            except Exception as exc:  # damaged sheet XML, unknown cell types...
                raise ImportFileError(
                    f"{path}: sheet {sheet.title!r} of this Excel file cannot be read ({type(exc).__name__}). Open it "
                    "in Excel, save it again as .xlsx (or as CSV) and import that file."
                ) from None
            width = max((len(r) for r in rows), default=0)
            padding = (None,) * width
            cells = pd.DataFrame([tuple(r) + padding[len(r) :] for r in rows], dtype=object) if width else pd.DataFrame()
            if cells.empty:
                continue
            cells = cells.astype(object)
            for column in cells.columns:
                cells[column] = cells[column].map(_cell_text)
            label = str(path) if len(sheets) == 1 else f"{path} [{sheet.title}]"
            lines = np.arange(1, len(cells) + 1, dtype=np.int64)
            grids.append(_Grid(label=label, cells=cells, lines=lines, excel=True, sheet=sheet.title))
        return grids
    finally:
        workbook.close()


# --------------------------------------------------------------------------- header row


def _row_cells(grid: _Grid, position: int) -> list[str]:
    return [str(c).strip() for c in grid.cells.iloc[position].tolist() if str(c).strip()]


def _find_header(grid: _Grid, profiles: list[Profile], mapped_columns: set[str]) -> int | None:
    """Position of the row among the first non-blank ones that names the most known fields."""
    stripped = grid.cells.head(HEADER_SCAN_ROWS * 4)
    filled = stripped.apply(lambda c: c.astype(str).str.strip() != "").sum(axis=1)
    candidates = [i for i, n in enumerate(filled.tolist()) if n > 0][:HEADER_SCAN_ROWS]
    mapped_keys = {header_key(c) for c in mapped_columns}
    best, best_score = None, 0
    for position in candidates:
        cells = _row_cells(grid, position)
        if len(cells) < 2:
            continue
        score = max((p.header_score(cells) for p in profiles), default=0)
        score += 2 * len(mapped_keys & {header_key(c) for c in cells})
        if score > best_score:
            best, best_score = position, score
    return best if best_score >= 2 else None


def _widest_row(grid: _Grid) -> tuple[int, list[str]]:
    head = grid.cells.head(HEADER_SCAN_ROWS * 4)
    filled = head.apply(lambda c: c.astype(str).str.strip() != "").sum(axis=1)
    if filled.empty:
        return 1, []
    position = int(np.argmax(filled.to_numpy()))
    return int(grid.lines[position]), _row_cells(grid, position)


def _strip(series: pd.Series) -> np.ndarray:
    """Cells trimmed, missing cells as "" (one Python pass: cheaper than factorising)."""
    cells = series.to_numpy(dtype=object).tolist()
    try:
        stripped = [v.strip() for v in cells]
    except AttributeError:  # a missing cell (only XLSX and other callers have them)
        stripped = [v.strip() if isinstance(v, str) else ("" if pd.isna(v) else np.nan) for v in cells]
    out = np.empty(len(stripped), dtype=object)
    out[:] = stripped
    return out


def _unique_names(cells: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, start=1):
        name = str(cell).strip() or f"Column {index}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        names.append(name)
    return names


def _make_table(grid: _Grid, position: int) -> tuple[_Table, int]:
    """The data under the header at ``position``; blank, footer and repeated-header rows dropped."""
    header_cells = [str(c) for c in grid.cells.iloc[position].tolist()]
    names = _unique_names(header_cells)
    data = grid.cells.iloc[position + 1 :]
    index = pd.Index(grid.lines[position + 1 :], name=ROW)
    columns = {name: _strip(data.iloc[:, i]) for i, name in enumerate(names)}
    # A cell is filled unless it is "" (truthiness per cell, in C).
    filled = {name: values.astype(bool) for name, values in columns.items()}
    # Columns with no header and nothing in them are padding from ragged rows.
    unnamed = [n for n, cell in zip(names, header_cells) if not cell.strip()]
    empty_unnamed = [n for n in unnamed if not filled[n].any()]
    if empty_unnamed:
        names = [n for n in names if n not in empty_unnamed]
    stripped = pd.DataFrame({name: columns[name] for name in names}, index=index, dtype=object)
    filled_cells = np.column_stack([filled[n] for n in names]) if names else np.zeros((len(index), 0), dtype=bool)
    count = pd.Series(filled_cells.sum(axis=1), index=index)
    if len(names) and len(stripped):
        first_filled = filled_cells.argmax(axis=1)
        cells = np.column_stack([columns[n] for n in names])
        first_value = pd.Series(cells[np.arange(len(cells)), first_filled], index=index, dtype=object)
    else:
        first_value = pd.Series("", index=index, dtype=object)
    # Only rows with few cells filled can be a footer ("Total: 1,234"); the pattern is
    # checked on those alone.
    sparse = (count <= max(2, len(names) // 2)).to_numpy(dtype=bool)
    worded = np.zeros(len(first_value), dtype=bool)
    if sparse.any():
        worded[sparse] = first_value[sparse].str.match(FOOTER, na=False).to_numpy(dtype=bool)
    footer = (count <= 1) | pd.Series(worded, index=first_value.index)
    # Reports printed page by page repeat the header row on every page.
    header_texts = {cell.strip().casefold() for cell in header_cells if cell.strip()}
    suspects = pd.Series(
        [isinstance(v, str) and v.casefold() in header_texts for v in first_value.tolist()],
        index=first_value.index,
        dtype=bool,
    )
    repeated = pd.Series(0, index=stripped.index)
    if suspects.any():
        header_of = dict(zip(_unique_names(header_cells), header_cells))
        for name in names:
            cell = header_of[name]
            if cell.strip():
                repeated += (stripped.loc[suspects, name].str.casefold() == cell.strip().casefold()).astype(int)
        repeated = repeated.fillna(0)
    repeated_header = repeated >= np.maximum(2, (count * 0.8).to_numpy())
    keep = (count > 0) & ~footer & ~repeated_header
    table = _Table(
        label=grid.label,
        header_line=int(grid.lines[position]),
        columns=names,
        data=stripped if keep.all() else stripped.loc[keep],
        excel=grid.excel,
        sheet=grid.sheet,
    )
    return table, int(keep.sum())


# --------------------------------------------------------------------------- raw rows for rejections


class _RawRows(Mapping):
    """``(file, row) -> {header: value}`` read from the table when a rejection needs it."""

    def __init__(self) -> None:
        self._tables: dict[str, pd.DataFrame] = {}

    def add(self, label: str, data: pd.DataFrame) -> None:
        self._tables[label] = data

    def __getitem__(self, key: tuple[str, int]) -> dict[str, str]:
        label, row = key
        table = self._tables.get(str(label))
        if table is None or row not in table.index:
            raise KeyError(key)
        values = table.loc[row]
        if isinstance(values, pd.DataFrame):  # pragma: no cover - lines are unique
            values = values.iloc[0]
        return {str(k): ("" if pd.isna(v) else str(v)) for k, v in values.items()}

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for label, table in self._tables.items():
            for row in table.index:
                yield (label, int(row))

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())


# --------------------------------------------------------------------------- one table -> frames


@dataclass
class _TableResult:
    patients: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None
    providers: pd.DataFrame | None = None  # key, raw, _row, _file (+ npi/first/last)
    locations: pd.DataFrame | None = None
    rejected: list[Rejection] = field(default_factory=list)
    combined: bool = False
    # Patient id -> the rejection of a row that would have given that patient.
    rejected_patients: dict[str, Rejection] = field(default_factory=dict)
    duplicates: list[Rejection] = field(default_factory=list)  # exact duplicates of an earlier row
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows that gave a record
    skipped: int = 0  # open slots and schedule blocks: rows of no patient


class _TableParser:
    """Cleans the mapped columns of one table and builds its frames, set-wise."""

    def __init__(
        self,
        table: _Table,
        profile: Profile,
        columns: dict[str, str],
        visit_types: VisitTypeRules,
        as_of: dt.date,
        frames: set[str],
        fallbacks: dict[str, list[str]] | None = None,
    ) -> None:
        self.table = table
        self.data = table.data
        self.profile = profile
        self.columns = columns
        self.fallbacks = fallbacks or {}
        self._raw: dict[str, tuple[pd.Series, ...]] = {}
        self.visit_types = visit_types
        self.as_of = as_of
        self.frames = frames
        self.index = table.data.index
        self.reasons: list[pd.Series] = []

    # ---- column access

    def has(self, name: str) -> bool:
        return name in self.columns

    def header(self, name: str) -> str:
        return self.columns[name]

    def _clean(self, name: str, then: Callable[[pd.Series], pd.Series] | None = None) -> tuple[pd.Series, ...]:
        """(raw, translated, text, cleaned) of a field, in one pass over its distinct values."""
        options = {
            "placeholders": self.profile.name_placeholders if name in NAME_FIELDS else self.profile.placeholders,
            "patterns": self.profile.placeholder_patterns if name == "email" else (),
            "values": self.profile.values.get(name),
            "then": then,
        }
        parts = nz.clean_field(self.data[self.columns[name]], **options)
        for extra in self.fallbacks.get(name, ()):
            more = nz.clean_field(self.data[extra], **options)
            present = parts[0].notna()
            parts = tuple(part.where(present, other) for part, other in zip(parts, more))
        self._raw[name] = parts
        return parts

    def raw(self, name: str) -> pd.Series:
        """The field's cells, trimmed, empty as missing; gaps filled from fallback columns."""
        return (self._raw.get(name) or self._clean(name))[0]

    def translated(self, name: str) -> pd.Series:
        """Raw text with the profile's [values.<field>] translations applied (unmatched kept)."""
        return (self._raw.get(name) or self._clean(name))[1]

    def text(self, name: str) -> pd.Series:
        """Translated text with the profile's placeholders ("N/A", "No Email") made missing."""
        return (self._raw.get(name) or self._clean(name))[2]

    def cleaned(self, name: str, then: Callable[[pd.Series], pd.Series]) -> pd.Series:
        """``then(self.text(name))``, computed in the same pass over the distinct values."""
        return self._clean(name, then)[3]

    def vocabulary(self, name: str) -> tuple[pd.Series, pd.Series]:
        """Coded values through [values.X] then [words.X]; returns (value, unmatched-present mask)."""
        values = self.raw(name)
        mapped, unmatched = nz.map_values(values, self.profile.values.get(name, {}))
        by_words = nz.map_words(values.where(unmatched), self.profile.words.get(name, {}))
        mapped = mapped.where(~unmatched, by_words)
        empty = nz.drop_placeholders(values, self.profile.placeholders).isna()
        still = unmatched & by_words.isna() & ~empty
        return mapped, still

    # ---- problems

    def reject(self, mask: pd.Series, reasons: pd.Series | str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        if isinstance(reasons, str):
            self.reasons.append(pd.Series(reasons, index=self.index[mask.to_numpy()], dtype=object))
        else:
            self.reasons.append(reasons[mask].astype(object))

    def reject_value(self, mask: pd.Series, name: str, message: str, values: pd.Series | None = None) -> None:
        """Reject rows with "<column> '<value>' <message>", built for the rejected rows only."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        shown = (values if values is not None else self.raw(name))[mask].astype(object).fillna("")
        self.reasons.append(f"{self.header(name)} '" + shown + f"' {message}")

    def dates(self, name: str, *, past_only: bool = False, applies: pd.Series) -> pd.Series:
        values, bad = nz.parse_dates(self.raw(name), past_only=past_only, as_of=self.as_of, excel_serials=self.table.excel)
        self.reject_value(bad & applies, name, f"is not a date; expected {nz.DATE_EXPECTED}")
        return values.where(~bad)

    # ---- people

    def names(self) -> pd.DataFrame:
        parts = pd.DataFrame(index=self.index)
        if self.has("full_name"):
            split = nz.split_full_name(self.text("full_name"))
            for column in split.columns:
                parts[column] = split[column]
        for column in ("first_name", "middle_name", "last_name", "suffix"):
            if self.has(column):
                own = self.text(column)
                parts[column] = own if column not in parts else own.where(own.notna(), parts[column])
        for column in ("first_name", "middle_name", "last_name"):
            if column in parts:
                parts[column] = _clean_name(parts[column])
        if "suffix" in parts:
            parts["suffix"] = nz.normalize_suffix(parts["suffix"])
        return parts

    def patient_frame(self, ids: pd.Series, applies: pd.Series) -> pd.DataFrame:
        frame = pd.DataFrame({"external_id": ids}, index=self.index)
        if self.has("mrn"):
            frame["mrn"] = self.translated("mrn")
        names = self.names()
        for column in names.columns:
            frame[column] = names[column]
        no_last = applies & frame["last_name"].isna()
        if self.has("last_name"):
            self.reject(no_last, f"{self.header('last_name')} is empty; every patient needs a last name")
        else:
            whole = self.header("full_name")
            empty = self.raw("full_name").isna()
            self.reject(no_last & empty, f"{whole} is empty; every patient needs a name")
            self.reject_value(no_last & ~empty, "full_name", "has no last name")

        dob_raw = self.raw("dob")
        self.reject(applies & dob_raw.isna(), f"{self.header('dob')} is empty; every patient needs a date of birth")
        dob = self.dates("dob", past_only=True, applies=applies)
        today = pd.Timestamp(self.as_of)
        self.reject_value(applies & (dob > today), "dob", "is in the future")
        self.reject_value(applies & (dob < EARLIEST_DOB), "dob", "is before 1900")
        frame["dob"] = dob

        if self.has("sex"):
            sex, unknown = self.vocabulary("sex")
            frame["sex"] = sex.where(~unknown, "U")
        for column in ("address1", "address2", "city"):
            if self.has(column):
                frame[column] = self.text(column)
        if self.has("state"):
            states = self.profile.values.get("state")
            frame["state"] = self.cleaned("state", functools.partial(nz.clean_state, names=states))
        if self.has("postal_code"):
            frame["postal_code"] = self.cleaned("postal_code", nz.clean_postal_code)
        for column in ("phone_home", "phone_mobile", "phone_work"):
            if self.has(column):
                frame[column] = self.cleaned(column, nz.format_phone)
        if self.has("email"):
            frame["email"] = self.cleaned("email", nz.clean_email)
        if self.has("preferred_language"):
            frame["preferred_language"] = self.cleaned(
                "preferred_language",
                functools.partial(nz.normalize_language, languages=self.profile.values.get("preferred_language", {})),
            )
        deceased = None
        if self.has("deceased_date"):
            deceased = self.dates("deceased_date", applies=applies)
            frame["deceased_date"] = deceased
        # Status only when the file speaks of it (new patients otherwise get the registry's
        # default, "active"); a date of death makes a patient deceased whatever the status says.
        if self.has("patient_status") or deceased is not None:
            if self.has("patient_status"):
                status, _unknown = self.vocabulary("patient_status")
                status = status.fillna("active")
            else:
                status = pd.Series("active", index=self.index, dtype=object)
            if deceased is not None:
                status = status.mask(deceased.notna(), "deceased")
            frame["status"] = status
        if self.has("pcp"):
            frame["pm_provider_ref"] = _provider_key(self.text("pcp"))
        return frame

    # ---- appointments

    def visit_frame(self, ids: pd.Series, applies: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
        """The visits frame and the mask of rows that hold an appointment."""
        date_raw = self.raw("appt_date")
        appt_id = self.translated("appt_id") if self.has("appt_id") else pd.Series(np.nan, index=self.index, dtype=object)
        if "patients" in self.frames:
            # A combined report lists patients without appointments with no date and no id.
            holds = applies & (date_raw.notna() | appt_id.notna())
        else:
            holds = applies.copy()
        status = None
        if self.has("appt_status"):
            status, unknown = self.vocabulary("appt_status")
            holds &= status.ne(OPEN_SLOT).fillna(True).astype(bool)
            self.reject_value(
                holds & unknown,
                "appt_status",
                f"is not an appointment status the {self.profile.name} profile knows; add it under "
                f"[values.appt_status] in {self.profile.path.name}",
            )
        self.reject(holds & date_raw.isna(), f"{self.header('appt_date')} is empty; every appointment needs a date")
        time_raw = self.raw("appt_time") if self.has("appt_time") else None
        start, bad_date, bad_time = nz.parse_datetimes(date_raw, time_raw, excel_serials=self.table.excel)
        self.reject_value(holds & bad_date, "appt_date", f"is not a date; expected {nz.DATE_EXPECTED}")
        time_field = "appt_time" if self.has("appt_time") else "appt_date"
        time_text = time_raw if time_raw is not None else date_raw
        self.reject_value(holds & bad_time, time_field, f"is not a time; expected {nz.TIME_EXPECTED}", values=time_text)

        frame = pd.DataFrame({"patient_ref": ids, "start": start}, index=self.index)
        provider_key = None
        if self.has("provider"):
            provider_key = _provider_key(self.text("provider"))
            frame["provider_ref"] = provider_key
        if self.has("location"):
            frame["location_ref"] = _provider_key(self.text("location"))
        visit_type = None
        if self.has("visit_type"):
            visit_type = self.text("visit_type")
            frame["visit_type"] = visit_type.str.slice(0, 120)
        frame["visit_class"] = _visit_classes(visit_type, self.visit_types, self.index)
        cancelled = None
        if self.has("cancelled_date"):
            cancelled = self.dates("cancelled_date", applies=holds)
            frame["cancelled_date"] = cancelled
        if status is None:
            # No status column: an appointment still to come is scheduled, a past one happened.
            status = pd.Series(
                np.where(start >= pd.Timestamp(self.as_of), "scheduled", "completed"), index=self.index, dtype=object
            )
            if cancelled is not None:
                status = status.mask(cancelled.notna(), "cancelled")
        else:
            past = start < pd.Timestamp(self.as_of)
            status = status.where(status.notna(), pd.Series(np.where(past, "completed", "scheduled"), index=self.index))
        if self.has("cancel_reason"):
            no_show = self.text("cancel_reason").str.contains(r"(?i)no[\s_-]?show", regex=True, na=False)
            status = status.mask((status == "cancelled") & no_show, "no-show")
        frame["status"] = status
        if self.has("reason"):
            frame["reason"] = self.text("reason").str.slice(0, 200)

        # Appointments the export gives no id get one in parse(), once exact duplicates are out.
        frame.insert(0, "external_id", appt_id.copy())
        return frame, holds

    # ---- the whole table

    def parse(self) -> _TableResult:
        result = _TableResult(combined=self.frames == {"patients", "visits"})
        id_field = "patient_id" if self.has("patient_id") else "mrn"
        ids = self.translated(id_field)
        rows = pd.Series(True, index=self.index)
        no_patient = pd.Series(False, index=self.index)
        if "visits" in self.frames:
            # Open slots and schedule blocks belong to no patient: nothing to import or reject,
            # but they are counted as skipped. A row is one when its status says "open" or its
            # patient id is the system's "no patient" value (OpenEMR's pc_pid 0).
            no_patient = ids.isna() & self.raw(id_field).notna()
            if self.has("appt_status"):
                status, _unknown = self.vocabulary("appt_status")
                no_patient |= ids.isna() & status.eq(OPEN_SLOT).fillna(False).astype(bool)
            rows &= ~no_patient
        needs = "every appointment needs a patient identifier" if "visits" in self.frames else "every patient needs an identifier"
        self.reject(rows & ids.isna(), f"{self.header(id_field)} is empty; {needs}")
        self._reject_oversized_cells()

        patients = visits = None
        holds = pd.Series(False, index=self.index)
        if "patients" in self.frames:
            patients = self.patient_frame(ids, rows & ids.notna())
            if id_field == "mrn":
                # A chart number is typed by staff and gets re-used; a system's own patient id does not.
                self._reject_reused_ids(patients, id_field, rows & ids.notna())
        if "visits" in self.frames:
            visits, holds = self.visit_frame(ids, rows)

        rejected_rows = pd.Index([], dtype=np.int64)
        if self.reasons:
            reasons = pd.concat(self.reasons)
            joined = reasons.groupby(level=0, sort=True).agg(lambda r: "; ".join(dict.fromkeys(r)))
            rejected_rows = joined.index
            result.rejected = [
                Rejection(file_name=self.table.label, source_row=int(row), reason=str(reason))
                for row, reason in joined.items()
            ]
            if patients is not None:
                for ident, rejection in zip(ids.loc[rejected_rows].tolist(), result.rejected):
                    if isinstance(ident, str) and ident not in result.rejected_patients:
                        result.rejected_patients[ident] = rejection
        ok = rows & ~self.index.isin(rejected_rows) & ids.notna()
        label = self.table.label
        provider_parts = []
        kept = pd.Series(False, index=self.index)
        if patients is not None:
            frame = patients.loc[ok]
            kept |= ok
            if "visits" in self.frames:
                # A patient with several appointments is listed once per appointment; keep the last.
                frame = frame.loc[~frame["external_id"].duplicated(keep="last")]
            result.patients = _finish(frame, label)
            if "pm_provider_ref" in frame:
                provider_parts.append(self._provider_sources(frame.index, "pcp"))
        if visits is not None:
            frame = visits.loc[ok & holds]
            frame, duplicates = _exact_duplicates(frame)
            kept |= ok & holds & ~self.index.isin(duplicates.index)
            result.duplicates = [
                Rejection(file_name=label, source_row=int(row), reason=f"exact duplicate of row {int(first)}")
                for row, first in duplicates.items()
            ]
            frame = _with_visit_ids(frame)
            result.visits = _finish(frame, label)
            if "provider_ref" in frame:
                provider_parts.append(self._provider_sources(frame.index, "provider"))
            if "location_ref" in frame:
                names = self.text("location").loc[frame.index]
                locations = pd.DataFrame(
                    {"external_id": frame["location_ref"], "name": names.str.slice(0, 200), ROW: frame.index, FILE: label}
                ).dropna(subset=["external_id"])
                result.locations = locations.drop_duplicates("external_id").reset_index(drop=True)
        if provider_parts:
            result.providers = pd.concat(provider_parts, ignore_index=True)
        # Every row read is accounted for: imported, rejected, an exact duplicate or a skipped
        # open slot. A row that is none of these (a layout nobody foresaw) is rejected, never lost.
        rejected_mask = self.index.isin(rejected_rows)
        dup_mask = self.index.isin([r.source_row for r in result.duplicates])
        skipped = ~kept.to_numpy() & ~rejected_mask & ~dup_mask & (no_patient.to_numpy() | ~holds.to_numpy())
        if "patients" in self.frames:
            skipped &= no_patient.to_numpy()
        lost = ~kept.to_numpy() & ~rejected_mask & ~dup_mask & ~skipped
        if lost.any():
            result.rejected += [
                Rejection(file_name=label, source_row=int(row), reason="nothing on this row could be imported: it holds no "
                          "patient or appointment Panel Manager can read; check the row in the file")
                for row in self.index[lost]
            ]
            result.rejected.sort(key=lambda r: r.source_row)
        result.kept = self.index[kept.to_numpy()].to_numpy(dtype=np.int64)
        result.skipped = int(skipped.sum())
        return result

    def _reject_oversized_cells(self) -> None:
        """A cell longer than any field of an export can be (a quote mark missing its partner
        swallows the lines after it) rejects its row instead of stopping the import."""
        for column in self.table.columns:
            values = self.data[column].to_numpy(dtype=object)
            if not len(values):
                continue
            try:
                longest = max(map(len, values))
            except TypeError:  # a missing cell (Excel)
                longest = max(len(v) for v in values if isinstance(v, str)) if any(isinstance(v, str) for v in values) else 0
            if longest <= CELL_LIMIT:
                continue
            lengths = self.data[column].str.len()
            mask = (lengths > CELL_LIMIT).fillna(False)
            self.reasons.append(
                (f"{column} holds " + lengths[mask].astype("int64").map("{:,}".format)
                 + f" characters, more than a cell can hold ({CELL_LIMIT:,}); a quote mark is probably missing on "
                 "this row: correct the row in the file (or the PM system) and import again").astype(object)
            )

    def _reject_reused_ids(self, patients: pd.DataFrame, id_field: str, applies: pd.Series) -> None:
        """An MRN given to two different people (another name and another date of birth) in a
        file identified by MRN rejects the later rows: merging them would give one patient the
        other's visits."""
        frame = patients.loc[applies.to_numpy(dtype=bool)]
        if frame.empty or not frame["external_id"].duplicated().any():
            return
        repeated = frame.loc[frame["external_id"].duplicated(keep=False)]
        first = repeated.loc[~repeated["external_id"].duplicated()].set_index("external_id")

        def same(column: str) -> pd.Series:
            if column not in repeated:
                return pd.Series(True, index=repeated.index)
            mine = repeated[column]
            theirs = repeated["external_id"].map(first[column])
            if column == "dob":
                return (mine == theirs) | mine.isna() | theirs.isna()
            return (mine.str.casefold() == theirs.str.casefold()) | mine.isna() | theirs.isna()
        other_name = ~(same("last_name") & same("first_name"))
        other_dob = ~same("dob")
        clash = other_name & other_dob
        if not clash.any():
            return
        rows_of = pd.Series(repeated.index[~repeated["external_id"].duplicated().to_numpy()], index=first.index)
        header = self.header(id_field)
        shown = repeated.loc[clash, "external_id"]
        self.reasons.append(
            (f"{header} '" + shown + "' is given at row " + shown.map(rows_of).astype(str)
             + " to a different patient (other name and date of birth); one " + header
             + " cannot belong to two patients: correct the " + header + " of one of them in the PM system and export again"
             ).astype(object)
        )

    def _provider_sources(self, rows: pd.Index, name: str) -> pd.DataFrame:
        raw = self.text(name).loc[rows]
        part = pd.DataFrame({"key": _provider_key(raw), "raw": raw, ROW: rows, FILE: self.table.label})
        if name == "provider":
            for extra, column in (("provider_npi", "npi"), ("provider_first_name", "first_name"), ("provider_last_name", "last_name")):
                if self.has(extra):
                    part[column] = self.text(extra).loc[rows].to_numpy()
        return part.dropna(subset=["key"])


def _cut(series: pd.Series, length: int) -> pd.Series:
    """Text cut to ``length`` characters; only the few cells that are longer are touched."""
    cells = series.to_numpy(dtype=object)
    try:
        longest = max(map(len, cells[pd.notna(cells)].tolist()), default=0)
    except TypeError:  # a cell that is not text
        longest = length + 1
    if longest <= length:
        return series
    too_long = (series.str.len() > length).fillna(False).to_numpy(dtype=bool)
    return series.mask(too_long, series[too_long].str.slice(0, length))


def _fit_lengths(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cut text to the registry column's length (PostgreSQL refuses longer values; SQLite would keep them)."""
    table = TABLES[name]
    frame = frame.copy()
    for column in frame.columns:
        if column in table.c and isinstance(table.c[column].type, String) and table.c[column].type.length:
            values = frame[column]
            if values.dtype == object or pd.api.types.is_string_dtype(values):
                frame[column] = _cut(values, table.c[column].type.length)
    return frame


def _finish(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    frame = frame.copy()
    frame[ROW] = frame.index.to_numpy(dtype=np.int64)
    frame[FILE] = label
    return frame.reset_index(drop=True)


@nz.per_unique
def _clean_name(series: pd.Series) -> pd.Series:
    """An initial loses its full stop ("A." -> "A"); ALL CAPS names are title-cased."""
    return nz.proper_case(series.str.replace(r"^([^\W\d_])\.$", r"\1", regex=True)).str.slice(0, 80)


@nz.per_unique
def _provider_key(series: pd.Series) -> pd.Series:
    """How a provider (or location) named in a PM export is identified: spacing and case ignored."""
    text = series.astype(object).where(series.notna(), None)
    text = pd.Series(text, index=series.index, dtype=object)
    key = (
        text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        .str.replace(r"(?i)^dr\b\.?\s*", "", regex=True)
        .str.replace(".", " ", regex=False)
        .str.replace(r"\s*,\s*", ", ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip(" ,")
        .str.upper()
    )
    return key.mask(key == "").str.slice(0, 80)


def _visit_classes(visit_type: pd.Series | None, rules: VisitTypeRules, index: pd.Index) -> pd.Series:
    if visit_type is None:
        return pd.Series(rules.default, index=index, dtype=object)
    classes = nz.map_words(visit_type, rules.as_words())
    return classes.fillna(rules.default)


def _exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Appointments without an id that repeat an earlier row in every imported field.

    Returns the frame without them and, per dropped row, the row it repeats. Rows that
    differ in anything (a cancelled appointment and its checked-out rebooking in one
    slot) are all kept.
    """
    no_id = frame["external_id"].isna()
    if no_id.sum() < 2:
        return frame, pd.Series(dtype=np.int64)
    values = frame.loc[no_id].drop(columns=["external_id"])
    keys = pd.Series(row_hashes(values, list(values.columns)), index=values.index)
    repeated = keys.duplicated(keep="first")
    if not repeated.any():
        return frame, pd.Series(dtype=np.int64)
    first_row = pd.Series(keys.index, index=keys.to_numpy())
    first_row = first_row[~first_row.index.duplicated(keep="first")]
    firsts = keys[repeated].map(first_row)
    return frame.drop(index=firsts.index), firsts


def _with_visit_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Appointments without an id get a stable one: patient + date and time + provider, and for
    a second (third...) appointment in that slot (a cancelled visit and its rebooking) the
    occurrence number in file order. The first in a slot keeps the id earlier versions gave it,
    so re-importing a file imported before changes nothing."""
    needs = frame["external_id"].isna()
    if not needs.any():
        return frame
    provider = frame.loc[needs, "provider_ref"] if "provider_ref" in frame else None
    base = _synthetic_visit_ids(frame.loc[needs, "patient_ref"], frame.loc[needs, "start"], provider)
    occurrence = base.groupby(base.to_numpy()).cumcount()
    suffix = ("-" + (occurrence + 1).astype(str)).where(occurrence > 0, "")
    frame = frame.copy()
    frame.loc[needs, "external_id"] = base + suffix
    return frame


def _synthetic_visit_ids(ids: pd.Series, start: pd.Series, provider: pd.Series | None) -> pd.Series:
    """A stable id for appointments the export gives no id: patient + date and time + provider."""
    stamp = np.datetime_as_string(start.to_numpy(dtype="datetime64[m]"), unit="m").astype(object)
    parts = ids.astype(object).fillna("") + "|" + pd.Series(stamp, index=ids.index)
    if provider is not None:
        parts = parts + "|" + provider.astype(object).fillna("")
    hashed = pd.util.hash_array(parts.to_numpy(dtype=object), categorize=False)
    # Sixteen hex digits per hash, without a Python call per row.
    nibbles = (hashed[:, None] >> np.arange(60, -4, -4, dtype=np.uint64)) & np.uint64(15)
    digits = np.array(list("0123456789abcdef"))[nibbles.astype(np.intp)]
    text = np.ascontiguousarray(digits).view("<U16").ravel()
    return "pm-" + pd.Series(text, index=ids.index, dtype=object)


# --------------------------------------------------------------------------- providers


def _providers_frame(parts: list[pd.DataFrame], profile: Profile) -> pd.DataFrame | None:
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return None
    sources = pd.concat(parts, ignore_index=True)
    first = sources.drop_duplicates("key", keep="first").set_index("key")
    names = nz.split_provider_names(first["raw"], id_label=profile.provider_id_label)
    frame = pd.DataFrame({"external_id": first.index.to_numpy()}, index=first.index)
    frame["display_name"] = names["display_name"].str.slice(0, 200)
    frame["first_name"] = names["first_name"]
    frame["last_name"] = names["last_name"]
    frame["credentials"] = names["credentials"].str.slice(0, 40)
    for column in ("first_name", "last_name", "npi"):
        if column in sources:
            # The first value given for each provider, where the file names one.
            given = sources.dropna(subset=[column]).drop_duplicates("key").set_index("key")[column]
            given = given.reindex(first.index)
            if column == "npi":
                given = given.str.replace(r"\D", "", regex=True).where(lambda s: s.str.len() == 10)
                frame["npi"] = given
            else:
                given = nz.proper_case(given)
                frame[column] = given.where(given.notna(), frame[column])
    if "first_name" in sources or "last_name" in sources:
        full = (frame["first_name"].fillna("") + " " + frame["last_name"].fillna("")).str.strip()
        with_creds = full.where(frame["credentials"].isna(), full + ", " + frame["credentials"].fillna(""))
        frame["display_name"] = with_creds.where(full != "", frame["display_name"])
    frame[ROW] = first[ROW].to_numpy(dtype=np.int64)
    frame[FILE] = first[FILE].to_numpy()
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- the entry point


def _profile_error(path: Path, exc: Exception) -> ImportFileError:
    return ImportFileError(f"{path}: the import profiles cannot be read: {exc}")


def _choose_profiles(path: Path, name: str | None) -> list[Profile]:
    try:
        if name:
            try:
                return [load_profile(name)]
            except KeyError:
                names = ", ".join(available_profiles()) or "none"
                raise ImportFileError(
                    f"{path}: --profile {name}: there is no import profile called '{name}'. "
                    f"Profiles: {names}."
                ) from None
        profiles = load_profiles()
    except ResourceError as exc:
        raise _profile_error(path, exc) from None
    if not profiles:
        raise ImportFileError(f"{path}: no import profiles were found; reinstall Panel Manager.")
    return profiles


def _check_mapping_fields(path: Path, mapping: Mapping[str, str]) -> dict[str, str]:
    cleaned = {str(k).strip(): str(v).strip() for k, v in mapping.items()}
    unknown = [k for k in cleaned if k not in FIELDS]
    if unknown:
        raise ImportFileError(
            f"{path}: --map {unknown[0]}={cleaned[unknown[0]]!r}: '{unknown[0]}' is not a field Panel Manager "
            f"imports. Fields: {', '.join(FIELDS)}."
        )
    return cleaned


def _resolve_mapping(path: Path, table: _Table, mapping: dict[str, str]) -> dict[str, str]:
    """--map columns as the file spells them (exact, else ignoring case and punctuation)."""
    by_key: dict[str, str] = {}
    for column in table.columns:
        by_key.setdefault(header_key(column), column)
    resolved = {}
    for name, column in mapping.items():
        if column in table.columns:
            resolved[name] = column
        elif header_key(column) in by_key:
            resolved[name] = by_key[header_key(column)]
        else:
            raise ImportFileError(
                f"{path}: --map {name}={column!r}: the file has no column '{column}'. "
                f"Columns found (line {table.header_line}): {', '.join(table.columns)}."
            )
    return resolved


def _frames_possible(profile: Profile, columns: dict[str, str]) -> tuple[set[str], dict[str, list[tuple[str, ...]]]]:
    possible, missing = set(), {}
    for frame, groups in profile.required.items():
        lacking = [g for g in groups if not any(name in columns for name in g)]
        if lacking:
            missing[frame] = lacking
        else:
            possible.add(frame)
    return possible, missing


def _suggest_column(name: str, table: _Table, columns: dict[str, str]) -> str:
    used = set(columns.values())
    for column in table.columns:
        if column in used:
            continue
        key = header_key(column)
        if any(hint in key for hint in HINTS.get(name, ())):
            return column
    return "COLUMN"


def _missing_error(path: Path, table: _Table, profile: Profile, columns: dict[str, str], missing) -> ImportFileError:
    what = {"patients": "patients", "visits": "appointments"}
    needs = []
    fixes = []
    for frame, groups in missing.items():
        described = [" or ".join(FIELDS[n].label for n in group) for group in groups]
        needs.append(f"to import {what[frame]} it needs a column for the {', the '.join(described)}")
        options = []
        for group in groups:
            column = _suggest_column(group[0], table, columns)
            quoted = f'"{column}"' if column != "COLUMN" and not re.fullmatch(r"[\w.-]+", column) else column
            options.append(f"--map {group[0]}={quoted}")
        fixes.append(f"{' '.join(options)} to import the {what[frame]}")
    others = [p for p in available_profiles() if p != profile.name]
    where = f" (sheet {table.sheet!r})" if table.sheet else ""
    return ImportFileError(
        f"{path}: cannot import this file{where} with the {profile.name} profile: {'; '.join(needs)}. "
        f"Columns found (line {table.header_line}): {', '.join(table.columns)}. "
        f"Add {', or '.join(fixes)}"
        + (f"; or choose another profile with --profile {'|'.join(others)}." if others else ".")
    )


def _no_header_error(path: Path, grids: list[_Grid], profiles: list[Profile]) -> ImportFileError:
    line, cells = _widest_row(grids[0]) if grids else (1, [])
    shown = ", ".join(cells[:30]) if cells else "(nothing)"
    names = "|".join(p.name for p in profiles) if len(profiles) > 1 else "|".join(available_profiles())
    return ImportFileError(
        f"{path}: cannot find the column headers: none of the first {HEADER_SCAN_ROWS} lines names columns "
        f"Panel Manager knows (such as Patient ID, Last Name, DOB, Appt Date). Line {line} reads: {shown}. "
        "If those are the headers, name them with --map, e.g. --map patient_id=\"Acct No\" --map dob=\"Birth Dt\"; "
        f"or choose a profile with --profile {names}."
    )


def _tables_of(grids: list[_Grid], profiles: list[Profile], mapping: dict[str, str]) -> tuple[list[_Table], int, dict[str, int]]:
    tables: list[_Table] = []
    counts: dict[str, int] = {}
    for grid in grids:
        position = _find_header(grid, profiles, set(mapping.values()))
        if position is None:
            continue
        table, count = _make_table(grid, position)
        tables.append(table)
        counts[table.label] = count
    return tables, sum(counts.values()), counts


@dataclass
class _Plan:
    """How one table of a file will be read: its columns per field and the frames it can fill."""

    table: _Table
    columns: dict[str, str]
    frames: set[str]
    missing: dict[str, list[tuple[str, ...]]]
    fallbacks: dict[str, list[str]]


@dataclass
class _FilePlan:
    format: str
    profile: Profile
    rows_read: int
    plans: list[_Plan]
    encoding: str | None = None  # the codec a text file was read with
    rows_per_table: dict[str, int] = field(default_factory=dict)

    @property
    def usable(self) -> list[_Plan]:
        return [p for p in self.plans if p.frames]


def _plan_file(
    path: Path,
    profile: str | None,
    mapping: dict[str, str],
    progress: Progress,
    cancel: CancelToken,
    encoding: str | None = None,
) -> _FilePlan:
    """Read the cells, find each header row, pick the profile and match columns to fields."""
    forced = check_encoding(encoding, f"{path}: --encoding")
    profiles = _choose_profiles(path, profile)
    progress(0, 100, "Reading the file")
    raw = path.read_bytes()
    if raw.startswith(OLE2_MAGIC):
        raise ImportFileError(
            f"{path}: this is an old-format Excel workbook (.xls) or a password-protected one, which cannot be "
            "read. Open it in Excel, remove the password if it has one, save it as .xlsx (or as CSV) and import "
            "that file."
        )
    is_excel = raw.startswith(b"PK\x03\x04")
    named = profiles[0].encoding if profile else None
    grids = _read_excel_grids(path, cancel) if is_excel else [_read_text_grid(path, raw, forced=forced, single_byte=named)]
    if not grids:
        raise ImportFileError(f"{path}: the workbook has no rows. Export the report again and import the new file.")
    cancel.raise_if_cancelled()

    progress(30, 100, "Finding the header row")
    tables, rows_read, counts = _tables_of(grids, profiles, mapping)
    if not tables:
        raise _no_header_error(path, grids, profiles)

    if profile:
        chosen = profiles[0]
    else:
        try:
            chosen = detect_profile([c for t in tables for c in t.columns], profiles)
        except ResourceError as exc:
            raise _profile_error(path, exc) from None
        grid = grids[0]
        if (not is_excel and chosen.encoding and grid.codec_chosen_by == "detected" and grid.codec not in ("utf-8", "utf-16", "utf-32")
                and chosen.encoding != grid.codec):
            # A single-byte file of a vendor that declares its code page: read it in that one.
            grids = [_read_text_grid(path, raw, single_byte=chosen.encoding)]
            tables, rows_read, counts = _tables_of(grids, profiles, mapping)
            if not tables:
                raise _no_header_error(path, grids, profiles)

    plans = []
    for table in tables:
        columns = match_columns(chosen, table.columns, _resolve_mapping(path, table, mapping) if mapping else {})
        frames, missing = _frames_possible(chosen, columns)
        if "visits" not in frames:
            for appt_field, patient_field in PATIENT_ONLY_MEANING.items():
                if appt_field in columns and patient_field not in columns and appt_field not in mapping:
                    columns[patient_field] = columns.pop(appt_field)
            frames, missing = _frames_possible(chosen, columns)
        # Identifiers never borrow from a second column: "Patient ID" and "Acct #" are different numbers.
        own = {name: column for name, column in columns.items() if name not in mapping and name not in IDENTIFIERS}
        plans.append(_Plan(table, columns, frames, missing, fallback_columns(chosen, table.columns, own)))
    plan = _FilePlan(format=FORMAT_XLSX if is_excel else FORMAT_CSV, profile=chosen, rows_read=rows_read, plans=plans,
                     encoding=None if is_excel else grids[0].codec, rows_per_table=counts)
    if not plan.usable:
        first = plans[0]
        raise _missing_error(path, first.table, chosen, first.columns, first.missing)
    return plan


@dataclass
class PmFileDescription:
    """What Panel Manager makes of a PM export before importing it (for the Import screen)."""

    path: str
    format: str
    profile: str
    source: str
    header_line: int
    columns: list[str]
    # Every field the profile knows -> the file's column for it, or None when absent.
    mapping: dict[str, str | None]
    frames: list[str]
    rows: int
    encoding: str | None = None  # how a text file is read, e.g. "Windows-1252"


def describe_pm_file(
    path: Path,
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> PmFileDescription:
    """The profile, header line and field -> column mapping ``parse_pm_file`` would use.

    Raises ``ImportFileError`` with the same message the import would give when the
    file cannot be understood.
    """
    path = Path(path)
    checked = _check_mapping_fields(path, mapping or {})
    plan = _plan_file(path, profile, checked, no_progress, NEVER_CANCELLED, encoding)
    first = plan.usable[0]
    known = [name for name in FIELDS if name in plan.profile.fields or name in first.columns]
    return PmFileDescription(
        path=str(path),
        format=plan.format,
        profile=plan.profile.name,
        source=plan.profile.source,
        header_line=first.table.header_line,
        columns=list(first.table.columns),
        mapping={name: first.columns.get(name) for name in known},
        frames=sorted({f for p in plan.usable for f in p.frames}),
        rows=plan.rows_read,
        encoding=encoding_label(plan.encoding) if plan.encoding else None,
    )


def parse_pm_file(
    path: Path,
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    as_of: dt.date | None = None,
    encoding: str | None = None,
) -> ParsedImport:
    """Read one PM export (CSV/TXT/TSV or XLSX) into frames for ``write_parsed``.

    ``profile`` names an import profile (default: the one whose headers fit best);
    ``mapping`` ({field: column}, the --map option) overrides the profile for those
    fields. ``as_of`` (default today) decides whether an appointment with no status
    is still to come, and which dates of birth are in the future.
    """
    path = Path(path)
    as_of = as_of or dt.date.today()
    checked = _check_mapping_fields(path, mapping or {})
    try:
        visit_types = load_visit_types()
    except ResourceError as exc:
        raise _profile_error(path, exc) from None
    plan = _plan_file(path, profile, checked, progress, cancel, encoding)
    chosen = plan.profile
    usable = plan.usable

    raw_rows = _RawRows()
    results: list[_TableResult] = []
    for step, part in enumerate(usable):
        cancel.raise_if_cancelled()
        progress(40 + int(50 * step / len(usable)), 100, "Cleaning the values")
        raw_rows.add(part.table.label, part.table.data)
        parser = _TableParser(part.table, chosen, part.columns, visit_types, as_of, part.frames, part.fallbacks)
        results.append(parser.parse())
    cancel.raise_if_cancelled()

    progress(90, 100, "Preparing the rows")
    frames_out: dict[str, pd.DataFrame] = {}
    rejected = [r for res in results for r in res.rejected]
    rejected_patients: dict[str, Rejection] = {}
    for res in results:
        for ident, rejection in res.rejected_patients.items():
            rejected_patients.setdefault(ident, rejection)
    patients = [r.patients for r in results if r.patients is not None]
    if patients:
        # A patient-list sheet wins over demographics repeated in an appointment sheet.
        listed = pd.concat([r.patients for r in results if r.patients is not None and not r.combined] or [pd.DataFrame()])
        parts = []
        for res in results:
            if res.patients is None:
                continue
            part = res.patients
            if res.combined and not listed.empty:
                part = part.loc[~part["external_id"].isin(listed["external_id"])]
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        frame, mrn_rejects = _reject_shared_mrns(frame)
        rejected += mrn_rejects.values()
        rejected_patients.update(mrn_rejects)  # what finally kept these patients out
        if not frame.empty:
            frames_out["patients"] = frame
    visits = [r.visits for r in results if r.visits is not None and not r.visits.empty]
    if visits:
        frames_out["visits"] = pd.concat(visits, ignore_index=True)
    providers = _providers_frame([r.providers for r in results], chosen)
    if providers is not None and not providers.empty:
        frames_out["providers"] = providers
    locations = [r.locations for r in results if r.locations is not None and not r.locations.empty]
    if locations:
        frames_out["locations"] = pd.concat(locations, ignore_index=True).drop_duplicates("external_id")
    frames_out = {name: _fit_lengths(name, frame) for name, frame in frames_out.items()}
    duplicates = [d for res in results for d in res.duplicates]
    for rejection in [*rejected, *duplicates]:
        rejection.raw = raw_rows.get((rejection.file_name, rejection.source_row), {})
    rejected.sort(key=lambda r: (r.file_name, r.source_row))
    progress(100, 100, "File read")
    return ParsedImport(
        path=str(path),
        format=plan.format,
        profile=chosen.name,
        source=chosen.source,
        rows_read=sum(plan.rows_per_table.get(part.table.label, 0) for part in usable),  # the tables imported from
        frames=frames_out,
        rejected=rejected,
        raw_rows=raw_rows,  # type: ignore[arg-type]  # a lazy Mapping: only rejected rows are ever read
        files=[p.table.label for p in usable],
        rejected_ids={"patients": rejected_patients},
        encoding=encoding_label(plan.encoding) if plan.encoding else None,
        duplicates=duplicates,
        skipped=sum(res.skipped for res in results),
        kept={part.table.label: res.kept for part, res in zip(usable, results)},
        rows_per_file={part.table.label: plan.rows_per_table.get(part.table.label, 0) for part in usable},
    )


def _reject_shared_mrns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Rejection]]:
    """Two different patients with one MRN cannot both be kept: the later row wins.

    Returns the patients kept and, per patient id dropped, the rejection of its row.
    """
    if "mrn" not in frame.columns:
        return frame, {}
    distinct = frame.drop_duplicates("external_id", keep="last")
    shared = distinct["mrn"].notna() & distinct["mrn"].duplicated(keep="last")
    if not shared.any():
        return frame, {}
    losers = distinct.loc[shared]
    winners = distinct.loc[distinct["mrn"].notna()].drop_duplicates("mrn", keep="last").set_index("mrn")
    rejections = {
        str(row["external_id"]): Rejection(
            file_name=str(row[FILE]),
            source_row=int(row[ROW]),
            reason=(
                f"MRN '{row['mrn']}' is also given to patient '{winners.at[row['mrn'], 'external_id']}' at row "
                f"{int(winners.at[row['mrn'], ROW])}; one MRN cannot belong to two patients"
            ),
        )
        for _, row in losers.iterrows()
    }
    drop = frame["external_id"].isin(losers["external_id"])
    return frame.loc[~drop].reset_index(drop=True), rejections
