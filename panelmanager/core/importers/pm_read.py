"""Reading a PM export's cells: encoding, delimiter, Excel sheets, and finding the header row.

Part of ``pm.py`` (the public entry points stay there): see that module's docstring.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.importers.profiles import (
    Profile,
    header_key,
)
from panelmanager.core.importers.writer import ROW
from panelmanager.core.jobs import CancelToken

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


def _undefined_as_latin1(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)  # registered for decoding only
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

