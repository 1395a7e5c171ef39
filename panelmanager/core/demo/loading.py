"""Generating the whole practice and loading it into a registry (one transaction, refused over real data)."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Iterator

import numpy as np
import pandas as pd

from panelmanager.core.actions import audited_job
from panelmanager.core.db import RegistryError, scalar_defaults
from panelmanager.core.demo.practice import DemoPractice, _Generator
from panelmanager.core.demo.vocabulary import (
    SOURCE,
)
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress

CHUNK_PATIENTS = 5_000  # patients generated and written at once (fixed: the practice depends on it)
INSERT_ROWS = 40_000  # rows handed to one executemany / COPY
BACKGROUND = True  # generate the next chunk while the current one is written (``_in_background``)
_EVENTS = ("observations", "immunizations", "procedures", "conditions", "medications")


def _head(gen: _Generator) -> None:
    """What depends on the whole practice: locations, providers, patients, conditions, appointments."""
    gen.locations()
    gen.providers()
    gen.patients()
    gen.condition_flags()
    gen.appointments()


def _chunks(gen: _Generator, cancel: CancelToken) -> Iterator[tuple[int, dict[str, pd.DataFrame]]]:
    """Visits and the clinical rows of ``CHUNK_PATIENTS`` patients at a time: (patients done, frames)."""
    past_visits = 0
    for index, lo in enumerate(range(0, gen.n, CHUNK_PATIENTS)):
        cancel.raise_if_cancelled()
        hi = min(gen.n, lo + CHUNK_PATIENTS)
        part = gen.chunk(index, lo, hi, past_visits)
        part.visits()
        part.observations()
        part.procedures()
        part.immunizations()
        part.conditions()
        part.medications()
        past_visits += len(part.visit_frame)
        yield hi, {
            "visits": part.visit_frame,
            "observations": part.observation_frame,
            "immunizations": part.immunization_frame,
            "procedures": part.procedure_frame,
            "conditions": part.condition_frame,
            "medications": part.medication_frame,
        }


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the generator's hidden integer references (``_patient``, ``_visit``...)."""
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_")])


def generate_practice(
    patients: int,
    *,
    seed: int = 1,
    as_of: dt.date,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> DemoPractice:
    """Generate the demo practice for ``patients`` patients as of ``as_of`` (deterministic).

    The whole practice at once, in the importers' ``ParsedImport`` layout (for the CSV
    exports and tests); ``load_demo`` writes the same practice a chunk at a time.
    """
    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    gen = _Generator(patients, seed, as_of)
    progress(0, patients + 1, "Generating providers and patients")
    _head(gen)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ("visits", *_EVENTS)}
    for done, frames in _chunks(gen, cancel):
        for name, frame in frames.items():
            parts[name].append(_public(frame))
        progress(done, patients + 1, f"Generated {done:,} of {patients:,} patients")
    parts["visits"].append(_public(gen.appointment_frame))
    frames = {
        "locations": gen.location_frame,
        "providers": gen.provider_frame,
        "patients": _public(gen.patient_frame),
        **{name: pd.concat(chunks, ignore_index=True) for name, chunks in parts.items()},
    }
    for frame in frames.values():
        frame["_row"] = np.arange(2, len(frame) + 2)
    progress(patients + 1, patients + 1, "Generated")
    return DemoPractice(patients_requested=patients, seed=seed, as_of=as_of, frames=frames)


# --------------------------------------------------------------------------- loading


_MARKER_KEY = "demo_practice"  # settings-table row recording which demo a registry holds


class DemoRefused(RegistryError):
    """The registry already holds data the demo practice must not be mixed with."""


def _check_registry(conn, wanted: dict) -> bool:
    """True when the registry already holds this demo practice; ``DemoRefused`` when it must not get it."""
    from sqlalchemy import func, select

    from panelmanager.core.models import Patient, Setting

    others = conn.execute(select(func.count()).select_from(Patient).where(Patient.source != SOURCE)).scalar() or 0
    if others:
        raise DemoRefused(
            f"This registry already holds {others:,} patients imported from the practice's own systems. "
            "The demo practice is invented data and is never mixed with real patients: load it into a "
            "registry of its own, e.g. `panelmanager --db demo.sqlite3 demo`."
        )
    marker = conn.execute(select(Setting.value).where(Setting.key == _MARKER_KEY)).scalar()
    if marker is not None and json.loads(marker) != wanted:
        held = json.loads(marker)
        raise DemoRefused(
            f"This registry already holds a different demo practice ({held.get('patients')} patients, seed "
            f"{held.get('seed')}, as of {held.get('as_of')}); two demos cannot share a registry. Load this one "
            "into a new registry (--db another.sqlite3)."
        )
    if marker is not None:
        return True
    demo = conn.execute(select(func.count()).select_from(Patient).where(Patient.source == SOURCE)).scalar() or 0
    if demo:
        raise DemoRefused(
            f"This registry already holds {demo:,} demo patients without a record of which demo practice they "
            "are; load the demo into a new registry (--db another.sqlite3)."
        )
    return False


def _save_marker(conn, wanted: dict) -> None:
    from sqlalchemy import delete, insert

    from panelmanager.core.models import Setting

    conn.execute(delete(Setting).where(Setting.key == _MARKER_KEY))
    conn.execute(insert(Setting).values(key=_MARKER_KEY, value=json.dumps(wanted, sort_keys=True)))


@audited_job("import", details=lambda _a, kwargs, counts: {"demo": kwargs.get("patients"),
                                                         "patients": counts.get("patients", 0)})
def load_demo(
    registry,
    *,
    patients: int,
    seed: int = 1,
    as_of: dt.date,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, int]:
    """Generate the demo practice and write it into ``registry`` in one transaction.

    Returns how many rows of each kind were added; loading the same practice again adds
    nothing. Raises ``DemoRefused`` (a ``RegistryError``) when the registry holds real
    patients or a different demo practice, and ``Cancelled`` (nothing written) when
    ``cancel`` is set.

    The practice is generated and written ``CHUNK_PATIENTS`` patients at a time straight into
    the registry's tables (``_DirectWriter``), with the values the importers' ``write_parsed``
    would store for the same rows (ids, natural keys, search keys, one identifier per
    patient; no row hashes, ``_prepare`` says why): the demo is invented data whose references are known by
    construction, so the import's matching, reference look-ups and change detection are
    not needed (issue 16: 100,000 patients took 108 s and 1.3 GB through ``write_parsed``).
    """
    from panelmanager.core.importers.bulkload import bulk_load_settings
    from panelmanager.core.settings import PracticeSettings, load_settings, save_settings

    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    wanted = {"patients": int(patients), "seed": int(seed), "as_of": as_of.isoformat()}
    names = ["patients", "providers", "locations", "visits", "observations", "immunizations", "procedures",
             "conditions", "medications"]
    with registry.engine.connect() as conn:
        if _check_registry(conn, wanted):
            progress(100, 100, "This demo practice is already loaded")
            return dict.fromkeys(names, 0)
    cancel.raise_if_cancelled()
    # The import's bulk-load connection settings (SQLite: foreign-key checks off, a larger page
    # cache; core.importers.bulkload says why): every reference written here is an id this
    # transaction has just given its row.
    with registry.engine.connect() as conn, bulk_load_settings(conn):
        with conn.begin():
            if _check_registry(conn, wanted):  # again, inside the transaction that writes
                return dict.fromkeys(names, 0)
            writer = _DirectWriter(conn, progress, cancel)
            counts = writer.write(_Generator(patients, seed, as_of))
            _save_marker(conn, wanted)
            cancel.raise_if_cancelled()
            progress(99, 100, "Saving the registry")
    with registry.session() as session:
        settings = load_settings(session)
        if settings.practice_name == PracticeSettings().practice_name:
            settings.practice_name = "Riverside Community Health (demo)"
            settings.practice_address = "1 Main St, Springfield, MA 01103"
            settings.practice_phone = "(413) 555-0100"
            save_settings(session, settings)
    progress(100, 100, "Demo practice loaded")
    return {name: counts.get(name, 0) for name in names}


_ID_TABLES = ("locations", "providers", "patients", "visits", *_EVENTS)
# Tables whose plain (non-unique) indexes are dropped during a SQLite load and built once after.
_DEFERRED_INDEX_TABLES = ("patients", "patient_identifiers", "visits", *_EVENTS)


class _DirectWriter:
    """Writes the generated frames into the registry's tables, ids given here.

    Every row gets the id ``base + 1 + its index`` (``base``: the table's largest id when the
    load began), so references are computed, never looked up. SQLite: the plain indexes of
    the big tables are dropped first and built once at the end (inside the transaction: a
    failure or Cancel restores them with everything else); PostgreSQL: the tables are
    locked for the transaction (nobody else can take ids meanwhile), rows go by COPY
    (``importers.pg_copy``) and the id sequences are moved past the ids used.
    """

    def __init__(self, conn, progress: Progress, cancel: CancelToken) -> None:
        from panelmanager.core.importers.writer import TABLES

        self.conn, self.progress, self.cancel = conn, progress, cancel
        self.tables = TABLES
        self.sqlite = conn.dialect.name == "sqlite"
        self.counts: dict[str, int] = dict.fromkeys(_ID_TABLES, 0)

    def write(self, gen: _Generator) -> dict[str, int]:
        conn = self.conn
        if not self.sqlite:
            conn.exec_driver_sql(
                "LOCK TABLE " + ", ".join(_ID_TABLES + ("patient_identifiers",)) + " IN SHARE ROW EXCLUSIVE MODE")
        self.base = {name: int(conn.exec_driver_sql(f'SELECT MAX(id) FROM "{name}"').scalar() or 0)
                     for name in _ID_TABLES}
        deferred = self._drop_plain_indexes() if self.sqlite else []
        self.progress(1, 100, "Generating patients")
        _head(gen)
        self._insert("locations", _public(gen.location_frame), {})
        location = gen.provider_location_index
        self._insert("providers", _public(gen.provider_frame), {"location_id": self._ref("locations", location)})
        self._patients(gen)
        self.appointments = len(gen.appointment_frame)
        appointments = self._visits(gen.appointment_frame, first=0)
        if appointments is not None:
            self._write("visits", appointments)
        chunks = self._prepared_chunks(gen)
        for done, prepared in _in_background(chunks, self.cancel) if BACKGROUND else chunks:
            for name, frame in prepared:
                self._write(name, frame)
            self.progress(3 + int(82 * done / gen.n), 100, f"Written {done:,} of {gen.n:,} patients")
        self.cancel.raise_if_cancelled()
        for index, (_name, create) in enumerate(deferred):
            self.cancel.raise_if_cancelled()
            self.progress(86 + int(12 * index / len(deferred)), 100, "Building the indexes")
            conn.exec_driver_sql(create)
        if not self.sqlite:
            for name in (*_ID_TABLES, "patient_identifiers"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE((SELECT MAX(id) FROM \"{name}\"), 0) + 1, false)")
        return self.counts

    def _drop_plain_indexes(self) -> list[tuple[str, str]]:
        rows = self.conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ("
            + ", ".join("?" for _ in _DEFERRED_INDEX_TABLES) + ")",
            _DEFERRED_INDEX_TABLES,
        ).fetchall()
        plain = []
        for name, sql in rows:
            if sql.lstrip().upper().startswith("CREATE UNIQUE"):
                continue
            plain.append((name, sql))
        for name, _sql in plain:
            self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
        return plain

    def _ref(self, table: str, index: np.ndarray, *, offset: int = 0) -> pd.arrays.IntegerArray:
        """Registry ids of ``table`` rows by generator index (-1: no reference, NULL)."""
        index = np.asarray(index, dtype=np.int64)
        return pd.arrays.IntegerArray(self.base[table] + 1 + offset + index, index < 0)

    def _insert(self, name: str, frame: pd.DataFrame, refs: dict, *, key: str = "external_id",
                ids: np.ndarray | None = None) -> pd.DataFrame:
        frame = self._prepare(name, frame, refs, key=key, ids=ids)
        self._write(name, frame)
        return frame

    def _write(self, name: str, frame: pd.DataFrame) -> None:
        self._write_table(self.tables[name], frame)

    def _write_table(self, table, frame: pd.DataFrame) -> None:
        """``frame``'s rows into ``table``, ``source`` and the models' scalar defaults included.

        SQLite: one executemany per ``INSERT_ROWS`` slice on the DB-API cursor of the
        transaction's connection, the constant columns written as literals in the statement
        (not a Python value per row), each row a tuple made by ``zip`` as sqlite3 steps
        (no list of every row held). PostgreSQL: ``pg_copy.bulk_insert`` (COPY).
        """
        columns = [c for c in frame.columns if c in table.c and c != "source"]
        if not self.sqlite:
            from panelmanager.core.importers.pg_copy import bulk_insert

            for start in range(0, len(frame), INSERT_ROWS):
                bulk_insert(self.conn, table, frame.iloc[start : start + INSERT_ROWS][columns].assign(source=SOURCE))
            return
        constants = {"source": SOURCE} | scalar_defaults(table, [*columns, "source"])
        names = ", ".join(f'"{c}"' for c in (*columns, *constants))
        values = ", ".join(["?"] * len(columns) + [_sql_literal(v) for v in constants.values()])
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({values})'
        cursor = self.conn.connection.driver_connection.cursor()
        try:
            for start in range(0, len(frame), INSERT_ROWS):
                part = frame.iloc[start : start + INSERT_ROWS]
                cursor.executemany(sql, zip(*(_sqlite_column(part[c], table.c[c]) for c in columns)))
        finally:
            cursor.close()

    def _prepare(self, name: str, frame: pd.DataFrame, refs: dict, *, key: str = "external_id",
                 ids: np.ndarray | None = None) -> pd.DataFrame:
        """``frame`` with ``refs`` and ``id`` as ``write_parsed`` would store it (``source``: ``_write``).

        No ``row_hash``: the demo never re-imports its own rows (loading it again adds nothing,
        ``_check_registry``), and a row stored without a hash is one the importer's change
        detection always counts as changed (``writer._split``, ``writer._sync_patients``: the
        same rule that ``provider_merge`` relies on), so an import of these rows later still
        compares and rewrites them; hashing every value of every row cost ~10% of the load.
        """
        frame = frame.drop(columns=[c for c in frame.columns if c.endswith("_ref")]).assign(**refs)
        if ids is None:
            ids = self.base[name] + 1 + self.counts[name] + np.arange(len(frame))
        frame["id"] = ids
        self.counts[name] += len(frame)
        return frame

    def _prepared_chunks(self, gen: _Generator) -> Iterator[tuple[int, list[tuple[str, pd.DataFrame]]]]:
        """Each chunk of patients' visits and clinical rows, ready to insert (no database access)."""
        for done, frames in _chunks(gen, self.cancel):
            prepared = [("visits", self._visits(frames.pop("visits"), first=self.appointments))]
            prepared += [(name, self._events(name, frames.pop(name))) for name in _EVENTS]
            yield done, [(name, frame) for name, frame in prepared if frame is not None]

    def _patients(self, gen: _Generator) -> None:
        from panelmanager.core.importers.writer import _with_search_keys
        from panelmanager.core.models import PatientIdentifier

        frame = gen.patient_frame
        refs = {"pm_provider_id": self._ref("providers", frame["_pm_provider"].to_numpy())}
        identifiers = frame["external_id"]
        written = self._prepare("patients", _public(frame).drop(columns="external_id"), refs, key="mrn")
        written = _with_search_keys(written)
        self._write("patients", written)
        self._write_table(PatientIdentifier.__table__,
                          pd.DataFrame({"patient_id": written["id"].to_numpy(),
                                        "identifier": identifiers.to_numpy(dtype=object)}))

    def _visits(self, frame: pd.DataFrame, *, first: int) -> pd.DataFrame | None:
        if frame.empty:
            return None
        refs = {
            "patient_id": self._ref("patients", frame["_patient"].to_numpy()),
            "provider_id": self._ref("providers", frame["_provider"].to_numpy()),
            "location_id": self._ref("locations", frame["_location"].to_numpy()),
        }
        ids = self.base["visits"] + 1 + first + frame["_visit"].to_numpy(dtype=np.int64)
        return self._prepare("visits", _public(frame), refs, ids=ids)

    def _events(self, name: str, frame: pd.DataFrame) -> pd.DataFrame | None:
        from panelmanager.core.importers.writer import _with_event_keys

        if frame.empty:
            return None
        refs = {
            "patient_ref": self._ref("patients", frame["_patient"].to_numpy()),
            "visit_ref": self._ref("visits", frame["_visit"].to_numpy(), offset=self.appointments),
        }
        # The importer's natural key (identity over the registry ids), then new rows in key order
        # as the importer writes them: the unique (source, natural_key) index grows in runs.
        keyed = _with_event_keys(name, _public(frame).drop(columns=["patient_ref", "visit_ref"]).assign(**refs))
        keyed = keyed.rename(columns={"patient_ref": "patient_id", "visit_ref": "visit_id"})
        keyed = keyed.sort_values("natural_key", kind="stable")
        return self._prepare(name, keyed, {}, key="natural_key")


def _sql_literal(value: object) -> str:
    """A constant as a SQLite literal, stored as sqlite3 would store it bound (bool as 0/1)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")


def _sqlite_column(series: pd.Series, column) -> list:
    """One column as sqlite3 binds it, stored as ``db.bulk_insert`` stores it (missing: None;
    dates and times: SQLAlchemy's SQLite text, by ``db._sqlite_values``)."""
    from sqlalchemy import Date, DateTime

    from panelmanager.core.db import _sqlite_values

    if isinstance(column.type, (Date, DateTime)):
        text = _sqlite_time_text(series, date_only=not isinstance(column.type, DateTime))
        return _sqlite_values(series, column) if text is None else text
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iub":
        return series.to_numpy().tolist()
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        return series.to_numpy().tolist()  # sqlite3 binds NaN as NULL
    if not isinstance(series.dtype, np.dtype):  # nullable integers, pandas strings: pd.NA
        return series.to_numpy(dtype=object, na_value=None).tolist()
    # Object columns as they are: the generator's missing values are None, and a NaN that
    # pandas put in their place binds as NULL too (sqlite3 binds NaN as NULL).
    return series.to_numpy(dtype=object).tolist()


_CLOCK: np.ndarray | None = None  # "HH:MM:SS" of each second of a day, as U1 characters (86,400 x 8)


def _sqlite_time_text(series: pd.Series, *, date_only: bool) -> list | None:
    """Whole-second datetime64 values as SQLAlchemy's SQLite text (``db._sqlite_date_text``'s
    "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS.000000"), assembled from a table of the days the
    column spans and one of the seconds of a day instead of formatting every value; None
    when the column is not like that (the caller then formats each value)."""
    global _CLOCK
    if not isinstance(series.dtype, np.dtype) or series.dtype.kind != "M":
        return None
    values = series.to_numpy()
    missing = np.isnat(values)
    seconds = values.astype("datetime64[s]")
    if not (seconds[~missing] == values[~missing]).all():
        return None
    stamp = np.where(missing, 0, seconds.view(np.int64))
    days = np.floor_divide(stamp, 86_400)
    if not len(values) or missing.all():
        return [None] * len(values)
    lo, hi = int(days[~missing].min()), int(days[~missing].max())
    days[missing] = lo  # any day: the missing values become None below
    stamp[missing] = lo * 86_400
    if hi - lo > 400_000:
        return None
    calendar = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]"), unit="D")
    if len(calendar) and int(np.char.str_len(calendar).max()) != 10:  # a year outside 0000-9999
        return None
    calendar = calendar.astype("U10")
    if date_only:
        text = calendar[days - lo].astype(object)
    else:
        if _CLOCK is None:
            clock = np.datetime_as_string(np.arange(86_400).astype("datetime64[s]"), unit="s").astype("U19")
            _CLOCK = clock.view("U1").reshape(86_400, 19)[:, 11:19].copy()
        chars = np.empty((len(values), 26), dtype="U1")
        chars[:, :10] = calendar[days - lo].view("U1").reshape(len(values), 10)
        chars[:, 10] = " "
        chars[:, 11:19] = _CLOCK[stamp - days * 86_400]
        chars[:, 19:] = np.array(list(".000000"), dtype="U1")
        text = chars.view("U26").reshape(len(values)).astype(object)
    text[missing] = None
    return text.tolist()


_DONE = object()


def _in_background(items: Iterator, cancel: CancelToken) -> Iterator:
    """``items``, produced one ahead by a worker thread.

    The next chunk is generated and prepared (numpy/pandas) while SQLite inserts the current
    one; sqlite3 releases the GIL while it steps through its statements, so on two cores the
    two overlap. One chunk waits at most (memory stays bounded); an exception in the worker
    is raised here; when the consumer stops early (an error, Cancel) the worker stops too.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if stop.is_set() or cancel.cancelled or not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(exc)

    worker = threading.Thread(target=work, name="demo-generator", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = handoff.get(timeout=0.1)
            except queue.Empty:
                cancel.raise_if_cancelled()
                if not worker.is_alive() and handoff.empty():
                    cancel.raise_if_cancelled()
                    raise RuntimeError("the demo generator stopped without finishing") from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
