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

The module is in three parts: ``pm_read`` (cells, encoding, delimiter, Excel sheets,
the header row), ``pm_table`` (one table's columns to frames) and this one (choosing
the profile and mapping, planning the file, the public entry points).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.importers.pm_read import (  # noqa: F401
    FORMAT_CSV,
    FORMAT_XLSX,
    HEADER_SCAN_ROWS,
    HINTS,
    IDENTIFIERS,
    OLE2_MAGIC,
    PATIENT_ONLY_MEANING,
    _find_header,
    _Grid,
    _make_table,
    _read_excel_grids,
    _read_text_grid,
    _Table,
    _widest_row,
    check_encoding,
    encoding_label,
)

# _synthetic_visit_ids stays importable from here (tests use it).
from panelmanager.core.importers.pm_table import (  # noqa: F401
    _fit_lengths,
    _providers_frame,
    _RawRows,
    _synthetic_visit_ids,
    _TableParser,
    _TableResult,
)
from panelmanager.core.importers.profiles import (
    FIELDS,
    Profile,
    available_profiles,
    detect_profile,
    fallback_columns,
    header_key,
    load_profile,
    load_profiles,
    load_visit_types,
    match_columns,
)
from panelmanager.core.importers.writer import FILE, ROW, ParsedImport, Rejection
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.resources import ResourceError

__all__ = ["FORMAT_CSV", "FORMAT_XLSX", "PmFileDescription", "describe_pm_file", "parse_pm_file"]

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
