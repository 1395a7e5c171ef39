"""Writes normalised frames into the registry, set-wise, matching on natural keys.

Every importer (Synthea folders, PM patient and appointment exports) turns its file
into a ``ParsedImport``: one pandas frame per registry table, with columns named after
the table's columns plus reference columns (``patient_ref``, ``provider_ref``,
``location_ref``, ``visit_ref``) that hold the *source system's* identifiers. This
module resolves those references to registry ids, decides for each row whether it is
new, changed or unchanged by comparing a 64-bit hash of its values with the stored
``row_hash``, and writes only the difference with one executemany per table.

It never commits: the caller (``importers.run``) owns the transaction, so a failure or a
cancel anywhere leaves the registry exactly as it was.

Why this is one module of ~890 lines: resolving references, the natural keys, the row hashes
and the staged or direct write are one pipeline that every table (and each chunk of an event
file) goes through in order, sharing the id maps and stored keys read once per table; the
PostgreSQL COPY path (``pg_copy``), staging (``staging``) and bulk settings (``bulkload``)
already live apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, func, select

from panelmanager.core import models
from panelmanager.core.importers.pg_copy import bulk_insert, bulk_update  # COPY on PostgreSQL, else db's
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken
from panelmanager.core.search_keys import refresh_search_keys

ROW = "_row"  # the 1-based source line number, carried through every frame
FILE = "_file"  # the file a row came from (a Synthea folder holds several)

# Identifying columns of events that have no identifier of their own in the source.
EVENT_IDENTITY: dict[str, tuple[str, ...]] = {
    "observations": ("patient_ref", "visit_ref", "date", "code_system", "code", "value", "unit"),
    "immunizations": ("patient_ref", "visit_ref", "date", "cvx"),
    "procedures": ("patient_ref", "visit_ref", "date", "code_system", "code"),
    "conditions": ("patient_ref", "visit_ref", "code_system", "code", "onset"),
    "medications": ("patient_ref", "visit_ref", "start", "code_system", "code"),
}

TABLES: dict[str, Table] = {
    "locations": models.Location.__table__,
    "providers": models.Provider.__table__,
    "patients": models.Patient.__table__,
    "visits": models.Visit.__table__,
    "observations": models.Observation.__table__,
    "immunizations": models.Immunization.__table__,
    "procedures": models.Procedure.__table__,
    "conditions": models.Condition.__table__,
    "medications": models.Medication.__table__,
}
ORDER = tuple(TABLES)

# reference column -> (registry column, referenced table, required?)
REFERENCES: dict[str, tuple[str, str, bool]] = {
    "patient_ref": ("patient_id", "patients", True),
    "provider_ref": ("provider_id", "providers", False),
    "location_ref": ("location_id", "locations", False),
    "visit_ref": ("visit_id", "visits", False),
}
# Patients point at the PM system's own PCP.
PATIENT_REFERENCES = {"pm_provider_ref": ("pm_provider_id", "providers", False)}


@dataclass
class Rejection:
    file_name: str
    source_row: int
    reason: str
    raw: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedImport:
    """What a parser made of one file (or one Synthea folder)."""

    path: str
    format: str
    profile: str | None
    source: str
    rows_read: int
    frames: dict[str, pd.DataFrame]
    rejected: list[Rejection] = field(default_factory=list)
    # Raw values per (file, row) so references rejected by the writer keep their input.
    raw_rows: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    sha256: str = ""
    # Table -> source id -> the rejection of that record's own row, so an event that
    # points at a rejected patient says so instead of "import the patients first".
    rejected_ids: dict[str, dict[str, Rejection]] = field(default_factory=dict)
    encoding: str | None = None  # how a text file was decoded ("Windows-1252"), for the preview
    # Rows left out because they repeat an earlier row in every imported field.
    duplicates: list[Rejection] = field(default_factory=list)
    skipped: int = 0  # rows of no patient (open schedule slots, lunch blocks)
    # Per file: the source rows that gave a record (None: every row read that was not rejected).
    kept: dict[str, np.ndarray] | None = None
    rows_per_file: dict[str, int] = field(default_factory=dict)


class TableChunks:
    """A table's rows handed over in parts: a big event file read, checked and built one
    chunk at a time (``synthea.CHUNK_ROWS``), so that no stage of the import holds the
    whole file (issue 16: memory bounded by a chunk, time linear in the rows). Each part
    is a frame like a whole table's; the parts can be iterated once."""

    def __init__(self, parts: Iterator[pd.DataFrame]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self._parts


@dataclass
class TableCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: TableCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class WriteResult:
    tables: dict[str, TableCounts]
    rejected: list[Rejection]
    duplicates: list[Rejection] = field(default_factory=list)

    @property
    def totals(self) -> TableCounts:
        total = TableCounts()
        for counts in self.tables.values():
            total.add(counts)
        return total


def row_hashes(frame: pd.DataFrame, columns: list[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """A stable signed 64-bit hash per row over ``columns`` (names included).

    ``cache`` keeps each column's own hash by name, for another hash of the same rows
    over an overlapping set of columns (an event's identity, then its whole row)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    ordered = sorted(columns)
    # Normalise dtypes so the same values always hash the same, whatever the parser's
    # dtypes: timestamps as whole seconds (UTC when zoned), numbers as float64 bits, the
    # rest as text. No per-row Python: 2M observations hash in about a second. One column
    # is normalised at a time and hashed into the running result, as
    # ``hash_pandas_object(<frame of the normalised columns>)`` would, without holding
    # every normalised column at once (2M rows: ~100 MB less at the import's peak).
    salt = pd.util.hash_array(np.array(["|".join(ordered)], dtype=object))[0]
    hashed = _combined_hash(frame, ordered, cache)
    return (hashed ^ salt).view(np.int64)


def _normalised(frame: pd.DataFrame, name: str) -> pd.Series:
    col = frame[name]
    part = pd.DataFrame(index=frame.index)  # the column as a frame column, as it always was hashed
    if pd.api.types.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        part[name] = col.to_numpy(dtype="datetime64[s]").view(np.int64)  # NaT: one sentinel
    elif col.dtype.kind in "fiub":
        values = col.astype("float64").to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 -> 0.0
        values[np.isnan(values)] = np.nan  # one NaN bit pattern
        part[name] = values
    else:
        values = col.to_numpy(dtype=object)
        missing = pd.isna(values)
        if missing.any():
            values = values.copy()
            values[missing] = ""
        if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
            values = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
        part[name] = values
    return part[name]


def _hash_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.util.hash_pandas_object(_normalised(frame, name), index=False).to_numpy(dtype=np.uint64)


def _combined_hash(frame: pd.DataFrame, ordered: list[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """pandas' own combination of per-column hashes (what ``hash_pandas_object`` of a frame does)."""
    try:
        from pandas.core.util.hashing import combine_hash_arrays
    except ImportError:  # a pandas without it: the frame of every normalised column at once
        part = pd.DataFrame({name: _normalised(frame, name) for name in ordered}, index=frame.index)
        return pd.util.hash_pandas_object(part, index=False).to_numpy(dtype=np.uint64)

    def column(name: str) -> np.ndarray:
        if cache is None:
            return _hash_column(frame, name)
        if name not in cache:
            cache[name] = _hash_column(frame, name)
        return cache[name]

    return combine_hash_arrays((column(name) for name in ordered), len(ordered), len(frame))


FETCH_BATCH_ROWS = 200_000


def _column_part(values) -> np.ndarray:
    values = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if pd.api.types.infer_dtype(values, skipna=False) == "integer":
        return values.astype(np.int64)
    return values  # integers with NULLs become Int64 once joined


def _plain_batches(conn: Connection, result):
    """The driver's own row tuples when no column needs SQLAlchemy's conversion, else None.

    On SQLite, building a Row object per row and transposing the Rows costs several
    times the fetch itself (100,000 patients: ~0.25 s against ~0.06 s); the key, id and
    hash columns the writer reads come back from the driver exactly as SQLAlchemy
    would return them.
    """
    if conn.dialect.name != "sqlite":
        return None
    columns = getattr(result.context.compiled, "statement", None)
    selected = getattr(columns, "selected_columns", None)
    if selected is None:
        return None
    for column in selected:
        if column.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None) is not None:
            return None
    cursor = result.cursor

    def batches():
        while True:
            rows = cursor.fetchmany(FETCH_BATCH_ROWS)
            if not rows:
                break
            yield rows

    return batches()


def _transpose(rows: list, width: int) -> list[np.ndarray]:
    table = np.empty((len(rows), width), dtype=object)
    table[:] = rows
    return [table[:, i] for i in range(width)]


def _fetch(conn: Connection, stmt) -> pd.DataFrame:
    """A query's rows as a frame, fetched in batches (2M rows as Row objects at once would
    cost ~300 MB); integer columns with NULLs stay exact (Int64, not float64)."""
    result = conn.execute(stmt)
    names = list(result.keys())
    parts: list[list[np.ndarray]] = [[] for _ in names]
    plain = _plain_batches(conn, result)
    if plain is not None:
        try:
            for batch in plain:
                for store, values in zip(parts, _transpose(batch, len(names))):
                    store.append(_column_part(values))
        finally:
            result.close()
    else:
        for batch in result.partitions(FETCH_BATCH_ROWS):
            for store, column in zip(parts, zip(*batch)):
                store.append(_column_part(column))
    data = {}
    for name, pieces in zip(names, parts):
        if not pieces:
            data[name] = pd.Series(dtype=object)
        elif all(p.dtype == np.int64 for p in pieces):
            data[name] = np.concatenate(pieces)
        else:
            joined = np.concatenate(pieces)
            kind = pd.api.types.infer_dtype(joined, skipna=True)
            data[name] = pd.array(joined, dtype="Int64") if kind == "integer" else joined
    return pd.DataFrame(data)


def _reject(frame: pd.DataFrame, mask: pd.Series, reason_of, parsed: ParsedImport, into: list[Rejection]) -> None:
    for _, row in frame.loc[mask].iterrows():
        file_name = row.get(FILE) or parsed.path
        into.append(
            Rejection(
                file_name=str(file_name),
                source_row=int(row[ROW]),
                reason=reason_of(row),
                raw=parsed.raw_rows.get((str(file_name), int(row[ROW])), {}),
            )
        )


class _IdMaps:
    """Source identifier -> registry id, per table, refreshed after each table is written."""

    def __init__(self, conn: Connection, source: str) -> None:
        self.conn = conn
        self.source = source
        self._maps: dict[str, pd.Series] = {}

    def load(self, table_name: str) -> pd.Series:
        if table_name == "patients":
            ident = models.PatientIdentifier.__table__
            frame = _fetch(
                self.conn,
                select(ident.c.identifier.label("ref"), ident.c.patient_id.label("id")).where(
                    ident.c.source == self.source
                ),
            )
        else:
            table = TABLES[table_name]
            # A provider the practice merged into another resolves to that one (core.provider_merge).
            ids = func.coalesce(table.c.merged_into_id, table.c.id) if table_name == "providers" else table.c.id
            frame = _fetch(
                self.conn,
                select(table.c.external_id.label("ref"), ids.label("id")).where(table.c.source == self.source),
            )
        series = pd.Series(frame["id"].to_numpy(), index=frame["ref"].astype(str).to_numpy(), dtype="Int64")
        self._maps[table_name] = series
        return series

    def get(self, table_name: str) -> pd.Series:
        return self._maps[table_name] if table_name in self._maps else self.load(table_name)

    def add(self, table_name: str, refs: pd.Series, ids: pd.Series) -> None:
        """Remember identifiers just written (cheaper than reading the whole table again)."""
        added = pd.Series(ids.to_numpy(), index=refs.astype(str).to_numpy(), dtype="Int64")
        current = self.get(table_name)
        self._maps[table_name] = added if current.empty else pd.concat([current, added])

    def by_identifier(self, refs: pd.Series) -> pd.Series:
        """Registry patient ids for this source's own patient identifiers (NA where unknown)."""
        return refs.map(self.get("patients")).astype("Int64")

    def by_mrn(self, refs: pd.Series) -> pd.Series:
        """Registry patient ids for medical record numbers (NA where unknown)."""
        wanted = refs.dropna().astype(str).unique().tolist()
        pat = models.Patient.__table__
        parts = [pd.DataFrame({"mrn": pd.Series(dtype=object), "id": pd.Series(dtype="int64")})]
        if len(wanted) > 5000:
            # One scan of the MRN index beats thousands of IN (...) round trips.
            parts.append(_fetch(self.conn, select(pat.c.mrn, pat.c.id).where(pat.c.mrn.is_not(None))))
        else:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                parts.append(_fetch(self.conn, select(pat.c.mrn, pat.c.id).where(pat.c.mrn.in_(chunk))))
        found = pd.concat(parts)
        lookup = pd.Series(found["id"].to_numpy(), index=found["mrn"].astype(str).to_numpy(), dtype="Int64")
        lookup = lookup[~lookup.index.duplicated()]
        keys = refs.astype(str).where(refs.notna())
        return keys.map(lookup).astype("Int64")

    def patient_ids(self, refs: pd.Series) -> pd.Series:
        """Resolve patient refs by this source's identifier, else by MRN."""
        ids = self.by_identifier(refs)
        missing = ids.isna() & refs.notna()
        if missing.any():
            ids.loc[missing] = self.by_mrn(refs[missing]).to_numpy()
        return ids


def _resolve_refs(
    name: str,
    frame: pd.DataFrame,
    maps: _IdMaps,
    parsed: ParsedImport,
    rejected: list[Rejection],
    references: dict[str, tuple[str, str, bool]],
) -> pd.DataFrame:
    for ref, (column, target, required) in references.items():
        if ref not in frame.columns:
            continue
        refs = frame[ref].astype(object).where(frame[ref].notna(), None)
        ids = maps.patient_ids(refs) if target == "patients" else refs.map(maps.get(target))
        ids = pd.Series(ids, index=frame.index, dtype="Int64")
        if required:
            bad = ids.isna()
            if bad.any():
                _reject(
                    frame,
                    bad,
                    lambda row, ref=ref, target=target: _unresolved_reason(row[ref], target, parsed),
                    parsed,
                    rejected,
                )
                frame = frame.loc[~bad]
                ids = ids.loc[~bad]
        frame = frame.drop(columns=[ref]).assign(**{column: ids})
    return frame


def _unresolved_reason(value, target: str, parsed: ParsedImport) -> str:
    """Why a row's reference to a ``target`` record (a patient) found nothing, and the fix."""
    what = target[:-1]
    if pd.isna(value):
        return f"no {what} identifier on this row"
    own = parsed.rejected_ids.get(target, {}).get(str(value))
    if own is not None:
        where = f"{Path(own.file_name).name} row {own.source_row}"
        return (
            f"{what} '{value}' was not imported because that {what}'s own row was rejected ({where}: {own.reason}); "
            f"correct {where} and import again"
        )
    return f"{what} '{value}' is not in this file or the registry; import the {target} first"


class _Occurrences:
    """How often each identity hash was seen in the earlier parts of a file (one sorted
    array: 2M observations take 16 MB, not a Python dict's ~200 MB)."""

    def __init__(self) -> None:
        self.seen = np.empty(0, dtype=np.uint64)  # every identity hash so far, sorted (repeats repeated)

    def number(self, base: np.ndarray) -> np.ndarray:
        """Each row's copy number within the file so far (0 for the first copy)."""
        occurrence = pd.Series(base).groupby(base).cumcount().to_numpy(dtype=np.uint64)
        if len(self.seen):
            before = np.searchsorted(self.seen, base, "right") - np.searchsorted(self.seen, base, "left")
            occurrence += before.astype(np.uint64)
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        self.seen = np.sort(np.concatenate([self.seen, np.sort(base)]), kind="stable")
        return occurrence


def _with_event_keys(
    name: str, frame: pd.DataFrame, seen: _Occurrences | None = None, cache: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    identity = [c for c in EVENT_IDENTITY[name] if c in frame.columns]
    base = row_hashes(frame, identity, cache).view(np.uint64)
    # Identical events in one file stay distinct: number each copy (counting the copies
    # in the file's earlier parts when it comes in parts).
    occurrence = (seen or _Occurrences()).number(base)
    mixed = base ^ (occurrence * np.uint64(0x9E3779B97F4A7C15))
    return frame.assign(natural_key=mixed.view(np.int64))


def _sync_table(
    conn: Connection,
    name: str,
    frame: pd.DataFrame | list[pd.DataFrame],
    source: str,
    key: str,
    stage=None,
    maps: _IdMaps | None = None,
) -> TableCounts:
    """Insert new rows and update changed ones; ``key`` is external_id or natural_key.

    With a ``stage`` (``importers.staging``: a SQLite import planned without the write
    lock) the rows go to the stage, which gives the new rows their ids; those of an
    external_id table are added to ``maps`` for the tables that point at them.

    ``frame`` may be handed over in a one-item list (the caller keeps no reference): the
    unsorted frame is then freed as soon as its sorted copy of the new rows exists, instead
    of both being held through the insert (issue 16: the peak of a big import is the
    largest table's frame plus its working copies).
    """
    if isinstance(frame, list):
        frame = frame.pop()
    table = TABLES[name]
    frame = frame.assign(row_hash=row_hashes(frame, _value_columns(frame, table, key)))
    lookup = _stored(conn, table, key, source)
    fresh, changed, counts = _split(frame, lookup, key)
    del frame, lookup
    write_columns = [c for c in fresh.columns if c in table.c and c != "id"]
    # New rows go in key order: the unique (source, key) index then grows at its end
    # instead of taking random page writes (2M observations: ~2x faster). Only the
    # written columns are copied by the sort; the unsorted frame goes with ``fresh``.
    fresh = fresh[write_columns].sort_values(key, kind="stable")
    if stage is not None:
        new_ids = stage.insert(conn, table, fresh)
        counts.new = len(fresh)
        if key == "external_id" and maps is not None and len(fresh):
            maps.add(name, fresh[key], pd.Series(new_ids))
    else:
        counts.new = bulk_insert(conn, table, fresh)
    if not changed.empty:
        counts.updated = (stage.update if stage is not None else bulk_update)(conn, table, changed[_update_columns(write_columns, key)])
    return counts


def _value_columns(frame: pd.DataFrame, table: Table, key: str) -> list[str]:
    bookkeeping = {ROW, FILE, "source", key}
    return [c for c in frame.columns if c not in bookkeeping and c in table.c]


def _update_columns(write_columns: list[str], key: str) -> list[str]:
    return ["id"] + [c for c in write_columns if c not in ("source", key)]


def _stored(conn: Connection, table: Table, key: str, source: str) -> pd.DataFrame | None:
    """The source's stored rows: key -> id and row hash (None when it has none yet)."""
    existing = _fetch(
        conn,
        select(table.c[key].label("_key"), table.c.id.label("_id"), table.c.row_hash.label("_old")).where(
            table.c.source == source
        ),
    )
    if existing.empty:
        return None
    as_key = (lambda s: s.astype(str)) if key == "external_id" else (lambda s: s.astype("int64"))
    # Nullable Int64 columns: reindexing plain int64 by keys that include new rows would
    # turn them into float64 and round the 64-bit hashes (every row then "changed").
    return pd.DataFrame(
        {"_id": pd.array(existing["_id"], dtype="Int64"), "_old": pd.array(existing["_old"], dtype="Int64")},
        index=as_key(existing["_key"]).to_numpy(),
    )


def _split(frame: pd.DataFrame, lookup: pd.DataFrame | None, key: str) -> tuple[pd.DataFrame, pd.DataFrame, TableCounts]:
    """New rows, changed rows (with their ids) and the counts, by the stored row hashes."""
    counts = TableCounts()
    if lookup is None:
        return frame, frame.iloc[0:0].copy(), counts  # a copy: a slice would keep the whole frame alive
    as_key = (lambda s: s.astype(str)) if key == "external_id" else (lambda s: s.astype("int64"))
    matched = lookup.reindex(as_key(frame[key]).to_numpy())
    found = matched["_id"].notna().to_numpy()
    stored = matched["_old"].to_numpy(dtype="int64", na_value=0)
    same = found & matched["_old"].notna().to_numpy() & (stored == frame["row_hash"].to_numpy(dtype="int64"))
    fresh = frame.loc[~found]
    stale = found & ~same
    changed = frame.loc[stale].assign(id=matched["_id"].to_numpy(dtype="int64", na_value=0)[stale])
    counts.unchanged = int(same.sum())
    return fresh, changed, counts


def _sync_event_parts(
    conn: Connection,
    name: str,
    parts: TableChunks,
    maps: _IdMaps,
    parsed: ParsedImport,
    rejected: list[Rejection],
    stage=None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> TableCounts | None:
    """``_sync_table`` for an event table that comes in parts (``TableChunks``).

    The stored keys and hashes are read once; each part is resolved, keyed (copies of
    an event counted across parts), hashed, compared and written (staged), then freed.
    Each part's new rows are staged in key order, appended to one staged insert for the
    table (``Stage.insert_more``: the apply inserts the file's new rows at once, with
    one decision about rebuilding the plain indexes, as for a whole file). The registry
    gets the rows, keys and hashes of a whole-file import; only the order of the new
    rows' ids differs (sorted per part, not over the file; no table points at an
    event's id). Sorting all parts together in SQLite before the apply cost more (a
    copy of every new row) than the index insertions it saved (30,000 patients: 31 s
    against 28 s CPU). None when the file gave no rows at all (as a whole-file read
    gives no table).
    """
    table = TABLES[name]
    lookup = _stored(conn, table, "natural_key", parsed.source)
    seen = _Occurrences()
    counts: TableCounts | None = None
    for frame in parts:
        cancel.raise_if_cancelled()
        counts = counts or TableCounts()
        frame["source"] = parsed.source
        frame = _resolve_refs(name, frame, maps, parsed, rejected, REFERENCES)
        frame = frame.rename(columns={"patient_id": "patient_ref", "visit_id": "visit_ref"})
        hashed: dict[str, np.ndarray] = {}  # each column hashed once for the key and the row hash
        frame = _with_event_keys(name, frame, seen, hashed)
        frame = frame.rename(columns={"patient_ref": "patient_id", "visit_ref": "visit_id"})
        hashed = {{"patient_ref": "patient_id", "visit_ref": "visit_id"}.get(k, k): v for k, v in hashed.items()}
        frame = frame.assign(row_hash=row_hashes(frame, _value_columns(frame, table, "natural_key"), hashed))
        del hashed
        fresh, changed, part_counts = _split(frame, lookup, "natural_key")
        del frame
        counts.unchanged += part_counts.unchanged
        write_columns = [c for c in fresh.columns if c in table.c and c != "id"]
        fresh = fresh[write_columns].sort_values("natural_key", kind="stable")
        if stage is not None:
            stage.insert_more(conn, table, fresh)  # all parts: one insert at the apply
            counts.new += len(fresh)
        else:
            counts.new += bulk_insert(conn, table, fresh)
        del fresh
        if not changed.empty:
            counts.updated += (stage.update if stage is not None else bulk_update)(
                conn, table, changed[_update_columns(write_columns, "natural_key")])
    return counts


def _sync_patients(
    conn: Connection,
    frame: pd.DataFrame,
    maps: _IdMaps,
    source: str,
    parsed: ParsedImport | None = None,
    rejected: list[Rejection] | None = None,
    stage=None,
) -> TableCounts:
    """Patients match on this source's identifier, else on MRN; identifiers are kept per source.

    With a ``stage`` the rows are staged (``importers.staging``) with their search keys,
    which a direct write leaves to ``refresh_search_keys``."""
    table = TABLES["patients"]
    ident_table = models.PatientIdentifier.__table__
    frame = frame.copy()
    if "mrn" not in frame.columns or frame["mrn"].isna().any():
        fallback = frame["external_id"] if "mrn" not in frame.columns else frame["mrn"].fillna(frame["external_id"])
        frame["mrn"] = fallback
    # This source's own identifier wins; a patient first seen from another source matches on MRN.
    ids = maps.by_identifier(frame["external_id"].astype(str))
    unmatched = ids.isna()
    if unmatched.any():
        ids.loc[unmatched] = maps.by_mrn(frame.loc[unmatched, "mrn"].astype(str)).to_numpy()
        by_mrn = unmatched & ids.notna()
        if by_mrn.any() and parsed is not None and rejected is not None:
            clash = _other_person(conn, frame.loc[by_mrn.to_numpy()], ids[by_mrn])
            if clash.any():
                rows = frame.index[by_mrn.to_numpy()][clash.to_numpy()]
                keep = _reject_patient_rows(
                    frame, rows,
                    lambda row: (
                        f"MRN '{row['mrn']}' already belongs to another patient in the registry (another name and "
                        "date of birth); one MRN cannot belong to two patients: correct the MRN of this patient in "
                        "the PM system and export again"
                    ),
                    parsed, rejected,
                )
                frame = frame.loc[keep]
                ids = ids.loc[keep]
    frame["id"] = ids.to_numpy()
    known = frame["id"].notna()
    old = (
        _rows_by_id(conn, table, frame.loc[known, "id"], [table.c.id, table.c.row_hash, table.c.status, table.c.mrn])
        if known.any()
        else pd.DataFrame(columns=["id", "row_hash", "status", "mrn"])
    )
    if known.any() and parsed is not None and rejected is not None:
        frame, known = _reject_taken_mrns(frame, known, old, maps, parsed, rejected)
    if "status" in frame.columns and known.any():
        # A patient the practice marked inactive or moved in the registry stays so when an
        # export merely lists them as active (most exports say "active" for everyone);
        # reactivating is a decision made on the Patients screen, deceased always wins.
        stored_status = pd.Series(old["status"].to_numpy(), index=old["id"].to_numpy())
        before = frame.loc[known, "id"].astype("int64").map(stored_status)
        keep = before.isin(["inactive", "moved"]).to_numpy() & frame.loc[known, "status"].eq("active").to_numpy()
        frame.loc[frame.index[known.to_numpy()][keep], "status"] = before[keep].to_numpy()
    value_columns = [c for c in frame.columns if c in table.c and c not in ("id", "source", "mrn")]
    value_columns += ["mrn"]
    frame["row_hash"] = row_hashes(frame, value_columns)

    counts = TableCounts()
    old_hash = pd.Series(pd.array(old["row_hash"], dtype="Int64"), index=old["id"].to_numpy())
    stored = frame.loc[known, "id"].astype("int64").map(old_hash).astype("Int64")
    same = pd.Series(False, index=frame.index)
    # A patient stored without a hash (added by hand, another tool) is never "unchanged".
    same.loc[known] = (stored == frame.loc[known, "row_hash"].astype("int64")).fillna(False).to_numpy(dtype=bool)
    counts.unchanged = int(same.sum())

    write_columns = [c for c in frame.columns if c in table.c and c != "id"]
    fresh = frame.loc[~known]
    changed = frame.loc[known & ~same]
    staged_ids = None
    if stage is not None:
        staged_ids = pd.Series(stage.insert(conn, table, _with_search_keys(fresh[write_columns])), index=fresh.index)
        counts.new = len(fresh)
        if not changed.empty:
            update_columns = ["id"] + [c for c in write_columns if c != "source"]
            counts.updated = stage.update(
                conn, table, _with_search_keys(changed[update_columns].assign(id=changed["id"].astype("int64"))))
    else:
        newest = conn.execute(select(func.max(table.c.id))).scalar() if not fresh.empty else None
        counts.new = bulk_insert(conn, table, fresh[write_columns])
        if not changed.empty:
            update_columns = ["id"] + [c for c in write_columns if c != "source"]
            counts.updated = bulk_update(conn, table, changed[update_columns].assign(id=changed["id"].astype("int64")))

    # Every patient gets this source's identifier (new patients and MRN matches alike).
    existing_idents = maps.get("patients")
    needs = ~frame["external_id"].astype(str).isin(existing_idents.index)
    if needs.any():
        need_ids = frame.loc[needs, "id"].astype("Int64")
        inserted = need_ids.isna()
        if inserted.any():
            new_ids = staged_ids if staged_ids is not None else _inserted_ids(conn, table, fresh["mrn"], newest, maps)
            need_ids.loc[inserted] = new_ids.loc[need_ids.index[inserted.to_numpy()]].to_numpy()
        idents = pd.DataFrame(
            {
                "patient_id": need_ids.astype("int64"),
                "source": source,
                "identifier": frame.loc[needs, "external_id"].astype(str),
            }
        ).drop_duplicates("identifier")
        (stage.insert if stage is not None else bulk_insert)(conn, ident_table, idents)
        maps.add("patients", idents["identifier"], idents["patient_id"])
    return counts


def _with_search_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the folded search key of each patient (``core.search_keys``)."""
    from panelmanager.core.search_keys import _KeyMaker

    def names(column: str) -> list:
        if column not in frame.columns:
            return [None] * len(frame)
        return frame[column].astype(object).where(frame[column].notna(), None).tolist()

    keys = _KeyMaker()
    return frame.assign(search_name=[keys(*row) for row in zip(names("last_name"), names("first_name"), names("middle_name"))])


def _reject_taken_mrns(frame, known, old, maps: _IdMaps, parsed: ParsedImport, rejected: list[Rejection]):
    """A known patient whose export now gives them an MRN another registry patient holds is
    rejected (the unique MRN would otherwise stop the whole file with an internal error)."""
    stored_mrn = pd.Series(old["mrn"].to_numpy(dtype=object), index=old["id"].astype("int64").to_numpy())
    stored_mrn = stored_mrn[~stored_mrn.index.duplicated()]
    ids = frame.loc[known, "id"].astype("int64")
    changed = pd.Series(False, index=frame.index)
    changed.loc[known] = (ids.map(stored_mrn).astype(object) != frame.loc[known, "mrn"].astype(str)).to_numpy(dtype=bool)
    if not changed.any():
        return frame, known
    holder = maps.by_mrn(frame.loc[changed, "mrn"].astype(str))
    taken = holder.notna() & (holder.astype("Int64") != frame.loc[changed, "id"].astype("Int64"))
    taken = taken.fillna(False).astype(bool)
    if not taken.any():
        return frame, known
    rows = taken.index[taken.to_numpy()]
    keep = _reject_patient_rows(
        frame, rows,
        lambda row: (
            f"MRN '{row['mrn']}' is already the MRN of another patient in the registry; one MRN cannot belong to two "
            "patients: correct the MRN of this patient (or of the other one) in the PM system and export again"
        ),
        parsed, rejected,
    )
    return frame.loc[keep], known.loc[keep]


def _reject_patient_rows(frame: pd.DataFrame, rows, reason_of, parsed: ParsedImport, rejected: list[Rejection]) -> np.ndarray:
    """Reject the patient rows labelled ``rows`` (their events then name the patient's own
    rejection); returns the mask of the rows kept."""
    fresh: list[Rejection] = []
    _reject(frame, frame.index.isin(rows), reason_of, parsed, fresh)
    rejected.extend(fresh)
    for ident, rejection in zip(frame.loc[rows, "external_id"].astype(str), fresh):
        parsed.rejected_ids.setdefault("patients", {}).setdefault(ident, rejection)
    return ~frame.index.isin(rows)


def _other_person(conn: Connection, frame: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """True where the registry patient an MRN points at is plainly someone else: another date of
    birth and another name (one of them alone changes: a corrected birth date, a new surname)."""
    table = TABLES["patients"]
    stored = _rows_by_id(conn, table, ids, [table.c.id, table.c.dob, table.c.first_name, table.c.last_name])
    stored = stored.drop_duplicates("id").set_index(pd.Index(stored.drop_duplicates("id")["id"].astype("int64")))
    keys = ids.astype("int64").to_numpy()
    result = pd.Series(False, index=frame.index)
    if "dob" not in frame or stored.empty:
        return result
    old_dob = pd.to_datetime(stored["dob"].reindex(keys).to_numpy(), errors="coerce")
    new_dob = pd.to_datetime(frame["dob"].to_numpy(), errors="coerce")
    other_dob = ~pd.isna(old_dob) & ~pd.isna(new_dob) & (old_dob.normalize() != new_dob.normalize())

    def differs(column: str) -> np.ndarray:
        if column not in frame:
            return np.zeros(len(frame), dtype=bool)
        old = pd.Series(stored[column].reindex(keys).to_numpy(), dtype=object).str.casefold()
        new = pd.Series(frame[column].to_numpy(), dtype=object).str.casefold()
        return (old.notna() & new.notna() & (old != new)).to_numpy(dtype=bool)

    other_name = differs("last_name") | differs("first_name")
    result[:] = np.asarray(other_dob, dtype=bool) & other_name
    return result


def _inserted_ids(conn: Connection, table: Table, mrns: pd.Series, newest: int | None, maps: _IdMaps) -> pd.Series:
    """Registry ids of the patients just inserted with these MRNs (same index).

    The rows come back in id order, which is insertion order: when their MRNs line up
    with ``mrns`` (always, short of a concurrent writer) no look-up by MRN is needed.
    """
    stmt = select(table.c.mrn, table.c.id).order_by(table.c.id)
    if newest is not None:
        stmt = stmt.where(table.c.id > newest)
    stored = _fetch(conn, stmt)
    wanted = mrns.astype(str).to_numpy(dtype=object)
    if len(stored) == len(wanted) and (stored["mrn"].to_numpy(dtype=object) == wanted).all():
        return pd.Series(stored["id"].to_numpy(), index=mrns.index, dtype="Int64")
    return pd.Series(maps.by_mrn(mrns.astype(str)).to_numpy(), index=mrns.index, dtype="Int64")


def _rows_by_id(conn: Connection, table: Table, ids: pd.Series, columns: list) -> pd.DataFrame:
    """Stored values of the rows with these ids: one scan when many, IN (...) batches when few."""
    wanted = pd.unique(ids.dropna().astype("int64").to_numpy()).tolist()
    if len(wanted) > 5000:
        return _fetch(conn, select(*columns))
    parts = [
        _fetch(conn, select(*columns).where(table.c.id.in_(wanted[start : start + 500])))
        for start in range(0, len(wanted), 500)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in columns])


def _drop_repeated_ids(
    name: str, frame: pd.DataFrame, parsed: ParsedImport, rejected: list[Rejection], duplicates: list[Rejection] | None = None
) -> pd.DataFrame:
    """A row repeating an earlier one in every value is an exact duplicate (counted as such);
    a file that lists the same record twice with different values keeps its last row, and the
    earlier ones are rejected."""
    if duplicates is not None and frame["external_id"].duplicated().any():
        values = [c for c in frame.columns if c not in (ROW, FILE)]
        hashes = pd.Series(row_hashes(frame, values), index=frame.index)
        exact = hashes.duplicated(keep="first") & frame["external_id"].duplicated(keep="first")
        if exact.any():
            first_row = pd.Series(frame[ROW].to_numpy(), index=hashes.to_numpy())
            first_row = first_row[~first_row.index.duplicated(keep="first")]
            for (_, row), key in zip(frame.loc[exact].iterrows(), hashes[exact].tolist()):
                file_name = str(row.get(FILE) or parsed.path)
                duplicates.append(Rejection(
                    file_name=file_name, source_row=int(row[ROW]),
                    reason=f"exact duplicate of row {int(first_row[key])}",
                    raw=parsed.raw_rows.get((file_name, int(row[ROW])), {}),
                ))
            frame = frame.loc[~exact]
    repeated = frame["external_id"].duplicated(keep="last")
    if repeated.any():
        last_row = frame.drop_duplicates("external_id", keep="last").set_index("external_id")[ROW]
        _reject(
            frame,
            repeated,
            lambda row: f"{name[:-1]} '{row['external_id']}' appears again at row {int(last_row[row['external_id']])}; the later row was used",
            parsed,
            rejected,
        )
        frame = frame.loc[~repeated]
    return frame


def write_parsed(
    conn: Connection,
    parsed: ParsedImport,
    *,
    progress=None,
    cancel: CancelToken = NEVER_CANCELLED,
    release_frames: bool = False,
    stage=None,
) -> WriteResult:
    """Write every frame of ``parsed`` in dependency order inside the caller's transaction.

    ``release_frames`` takes each frame out of ``parsed.frames`` as it is written, so a
    big import does not hold every parsed table and its working copies at once.
    ``stage`` (``importers.staging.Stage``) collects the rows instead of writing them.
    """
    maps = _IdMaps(conn, parsed.source)
    rejected: list[Rejection] = []
    duplicates: list[Rejection] = []
    results: dict[str, TableCounts] = {}
    names = [n for n in ORDER if n in parsed.frames]
    for index, name in enumerate(names):
        cancel.raise_if_cancelled()
        if progress:
            progress(index, len(names), f"Writing {name}")
        # A shallow copy: adding columns never touches the parser's frame.
        frame = parsed.frames.pop(name, None) if release_frames else parsed.frames.get(name)
        if frame is None:  # a file read only now (a lazy parse) that gave no rows
            continue
        if isinstance(frame, TableChunks):
            parts = _sync_event_parts(conn, name, frame, maps, parsed, rejected, stage, cancel)
            if parts is not None:
                results[name] = parts
            continue
        if not release_frames:
            frame = frame.copy(deep=False)
        frame["source"] = parsed.source
        if "external_id" in frame.columns:
            frame = _drop_repeated_ids(name, frame, parsed, rejected, duplicates)
        if name == "patients":
            frame = _resolve_refs(name, frame, maps, parsed, rejected, PATIENT_REFERENCES)
            results[name] = _sync_patients(conn, frame, maps, parsed.source, parsed, rejected, stage)
            if stage is None:  # a staged import writes the keys with the rows
                refresh_search_keys(conn)  # folded names for the search box (core.search_keys)
            continue
        frame = _resolve_refs(name, frame, maps, parsed, rejected, REFERENCES)
        if name in EVENT_IDENTITY:
            # References are resolved to ids by now; identity uses the registry ids.
            frame = frame.rename(columns={"patient_id": "patient_ref", "visit_id": "visit_ref"})
            frame = _with_event_keys(name, frame)
            frame = frame.rename(columns={"patient_ref": "patient_id", "visit_ref": "visit_id"})
        # Handed over (no reference kept here) so _sync_table can free it once sorted.
        handed, key = [frame], "natural_key" if name in EVENT_IDENTITY else "external_id"
        del frame
        results[name] = _sync_table(conn, name, handed, parsed.source, key, stage, maps)
        if key == "external_id" and stage is None:
            maps.load(name)
    if progress:
        progress(len(names), len(names), "Written")
    return WriteResult(tables=results, rejected=rejected, duplicates=duplicates)
