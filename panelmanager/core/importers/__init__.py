"""Importing PM exports and Synthea folders into the registry: one job, all or nothing per file.

``run_import`` is the service the CLI and the GUI both call. For each path it picks a
parser (a folder holding ``patients.csv`` is a Synthea export; a ``.csv``/``.xlsx`` file
is a PM export read through a column-mapping profile), writes the parsed frames inside
one transaction, records an ``import_batches`` row with the counts and the rejected
rows, and writes a rejects CSV when asked. A file that cannot be understood raises nothing past
this module: its outcome carries a message that names the file, what is wrong and the
option that fixes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from panelmanager.core import models
from panelmanager.core.actions import audited_job
from panelmanager.core.db import Registry, begin_for_savepoints
from panelmanager.core.importers.bulkload import bulk_load_settings
from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.importers.skip import import_key
from panelmanager.core.importers.staging import (
    clear_abandoned,
    finish_staged,
    restore_missing_indexes,
    uses_staging,
    write_staged,
)
from panelmanager.core.importers.writer import ParsedImport, Rejection, TableCounts, write_parsed
from panelmanager.core.jobs import NEVER_CANCELLED, Cancelled, CancelToken, Progress, no_progress
from panelmanager.core.permissions import default_user, require_current  # noqa: F401 (callers import default_user from here too)

__all__ = ["ImportFileError", "ImportOutcome", "detect_format", "parse_path", "run_import"]


@dataclass
class ImportOutcome:
    """What happened to one path; ``ok`` is False when nothing of it was written."""

    path: str
    format: str | None
    profile: str | None
    ok: bool
    dry_run: bool
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    same_file_skipped: bool = False  # the very file already imported, nothing changed since: not read again
    rejected: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    rejects_csv: str | None = None
    batch_id: int | None = None
    error: str | None = None
    # Where every row read went: rows_read == imported + rejected_rows + duplicates + skipped.
    imported: int = 0  # rows that gave a record (new, updated or unchanged)
    rows_rejected: int = 0  # distinct rows rejected (``rejected`` counts reasons, one per record)
    duplicates: int = 0  # rows repeating an earlier row in every imported field
    skipped: int = 0  # open schedule slots and blocks that belong to no patient
    # Per source file (a Synthea folder has several): read, imported, rejected, duplicates, skipped.
    files: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicate_rows: list[Rejection] = field(default_factory=list)
    encoding: str | None = None  # how a text export was decoded, e.g. "Windows-1252"
    sample_names: list[str] = field(default_factory=list)  # a few names, so a wrong decoding shows in a preview

    @property
    def accounted(self) -> bool:
        """Every row read is imported, rejected, an exact duplicate or a skipped open slot."""
        return self.rows_read == self.imported + self.rows_rejected + self.duplicates + self.skipped

    def rows_summary(self) -> str:
        """ "rows read 8: imported 5, rejected 1, exact duplicates 1, open slots skipped 1" """
        parts = [f"imported {self.imported:,}", f"rejected {self.rows_rejected:,}"]
        if self.duplicates:
            parts.append(f"exact duplicates {self.duplicates:,}")
        if self.skipped:
            parts.append(f"open slots skipped {self.skipped:,}")
        return f"rows read {self.rows_read:,}: " + ", ".join(parts)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("rejections")
        data["rejected_rows"] = [
            {"file": r.file_name, "row": r.source_row, "reason": r.reason} for r in self.rejections
        ]
        data["duplicate_rows"] = [
            {"file": r.file_name, "row": r.source_row, "reason": r.reason} for r in self.duplicate_rows
        ]
        return data


SAMPLE_NAMES = 5


def _sample_names(parsed: ParsedImport) -> list[str]:
    """A few patient names as they will be stored, those with accented letters first: a file
    read in the wrong code page shows itself here (Zoė for Zoë) before anything is written."""
    frame = parsed.frames.get("patients")
    if frame is None or frame.empty or "last_name" not in frame:
        return []
    first = frame["first_name"] if "first_name" in frame else pd.Series("", index=frame.index)
    names = (first.fillna("").astype(str) + " " + frame["last_name"].fillna("").astype(str)).str.strip()
    names = names[names != ""].drop_duplicates()
    accented = names[~names.map(str.isascii)]
    chosen = list(accented.head(SAMPLE_NAMES)) + list(names[names.map(str.isascii)].head(SAMPLE_NAMES))
    return chosen[:SAMPLE_NAMES]


def _account_rows(outcome: ImportOutcome, parsed: ParsedImport, rejections: list[Rejection], duplicates: list[Rejection]) -> None:
    """Count where each row read went, per source file and in total."""
    rejected_by_file: dict[str, set[int]] = {}
    for r in rejections:
        rejected_by_file.setdefault(str(r.file_name), set()).add(int(r.source_row))
    duplicate_by_file: dict[str, set[int]] = {}
    for d in duplicates:
        duplicate_by_file.setdefault(str(d.file_name), set()).add(int(d.source_row))
    files = list(dict.fromkeys([*parsed.rows_per_file, *rejected_by_file, *duplicate_by_file]))
    per_file: dict[str, dict[str, int]] = {}
    for name in files:
        rejected_rows = rejected_by_file.get(name, set())
        duplicate_rows = duplicate_by_file.get(name, set()) - rejected_rows
        per_file[name] = {
            "read": parsed.rows_per_file.get(name, 0),
            "rejected": len(rejected_rows),
            "duplicates": len(duplicate_rows),
        }
        if parsed.kept is not None and name in parsed.kept:
            kept = parsed.kept[name]
            gone = np.fromiter(rejected_rows | duplicate_rows, dtype=np.int64, count=len(rejected_rows | duplicate_rows))
            per_file[name]["imported"] = int((~np.isin(kept, gone)).sum()) if len(gone) else int(len(kept))
        else:
            per_file[name]["imported"] = per_file[name]["read"] - len(rejected_rows) - len(duplicate_rows)
    skipped = parsed.skipped
    outcome.files = per_file
    outcome.imported = sum(f["imported"] for f in per_file.values())
    outcome.rows_rejected = sum(f["rejected"] for f in per_file.values())
    outcome.duplicates = sum(f["duplicates"] for f in per_file.values())
    outcome.skipped = skipped
    for counts in per_file.values():
        counts["skipped"] = max(0, counts["read"] - counts["imported"] - counts["rejected"] - counts["duplicates"]) if skipped else 0


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "patients.csv").exists():
            return "synthea-csv"
        raise ImportFileError(
            f"{path}: this folder holds no patients.csv, so it is not a Synthea CSV export. "
            "Point at the folder that contains patients.csv, or at a single PM export file."
        )
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder.")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "pm-csv"
    if suffix in (".xlsx", ".xlsm"):
        return "pm-xlsx"
    if suffix == ".xls":
        raise ImportFileError(
            f"{path}: old Excel .xls files cannot be read. Open it in Excel and save it as .xlsx or .csv, then import that."
        )
    raise ImportFileError(
        f"{path}: Panel Manager imports .csv and .xlsx PM exports and Synthea CSV folders; "
        f"'{suffix or 'no extension'}' is none of those. Export the report as CSV and import that."
    )


def parse_path(
    path: Path,
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    encoding: str | None = None,
    lazy: bool = False,
) -> ParsedImport:
    fmt = detect_format(path)
    if fmt == "synthea-csv":
        from panelmanager.core.importers.synthea import parse_synthea_folder

        # lazy: each file of the folder is read when the writer takes its table (one file held at a time).
        return parse_synthea_folder(path, progress=progress, cancel=cancel, lazy=lazy)
    from panelmanager.core.importers.pm import parse_pm_file

    return parse_pm_file(path, profile=profile, mapping=mapping or {}, progress=progress, cancel=cancel, encoding=encoding)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for item in files:
        if path.is_dir():
            digest.update(item.name.encode())
        with item.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _rejects_path(path: Path, rejects_dir: Path) -> Path:
    base = path.name if path.is_dir() else path.stem
    return rejects_dir / f"{base}.rejects.csv"


def write_rejects_csv(target: Path, rejections: Sequence[Rejection]) -> Path:
    """Rejected rows with their source row, reason and original values (a deliberate export)."""
    raw_keys: list[str] = []
    for rejection in rejections:
        for key in rejection.raw:
            if key not in raw_keys:
                raw_keys.append(key)
    from panelmanager.core.safe_export import make_private_dir, write_csv

    if not target.parent.exists():
        target.parent.mkdir(parents=True)
        make_private_dir(target.parent)
    write_csv(target, ["file", "row", "reason", *raw_keys],
              ([r.file_name, r.source_row, r.reason, *(r.raw.get(k, "") for k in raw_keys)] for r in rejections))
    return target


def _record_batch(session, parsed: ParsedImport | None, outcome: ImportOutcome, started: dt.datetime, user: str, sha: str, result: str, key: str | None = None) -> int:
    extra = {}
    if key is not None:  # a committed import: remembered so the same file again can be skipped
        from panelmanager.core.importers import skip

        ids = skip.max_ids(session)
        extra = {"import_key": key, "change_counter": skip.current_counter(session),
                 "summary": skip.summary_json(outcome, ids)}
    batch = models.ImportBatch(
        **extra,
        file_name=outcome.path,
        sha256=sha,
        format=outcome.format or "unknown",
        profile=outcome.profile,
        user=user,
        started_at=started,
        finished_at=dt.datetime.now(),
        outcome=result,
        rows_read=outcome.rows_read,
        new=outcome.new,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        rejected=outcome.rejected,
        message=outcome.error,
    )
    session.add(batch)
    session.flush()
    if outcome.rejections:
        session.execute(
            insert(models.RejectedRow),
            [
                {
                    "batch_id": batch.id,
                    "file_name": r.file_name,
                    "source_row": r.source_row,
                    "reason": r.reason,
                    "raw": json.dumps(r.raw, ensure_ascii=False),
                }
                for r in outcome.rejections
            ],
        )
    return batch.id



def _import_details(_args, kwargs, outcomes: list[ImportOutcome]) -> dict:
    """What the audit entry says of an import: counts and formats, never a file name (it may name a patient)."""
    return {"files": len(outcomes), "imported": sum(o.ok for o in outcomes), "formats": sorted({o.format or "?" for o in outcomes}),
            "new": sum(o.new for o in outcomes), "updated": sum(o.updated for o in outcomes),
            "rejected_rows": sum(o.rows_rejected for o in outcomes), "dry_run": bool(kwargs.get("dry_run"))}


@audited_job("import", details=_import_details)
def run_import(
    registry: Registry,
    paths: Iterable[str | os.PathLike[str]],
    *,
    profile: str | None = None,
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
    user: str | None = None,
    rejects_dir: Path | None = None,
    write_rejects: bool = True,
    rejects_file: Path | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    encoding: str | None = None,
    force: bool = False,
) -> list[ImportOutcome]:
    """Import each path in its own transaction; returns one outcome per path.

    A file exactly as last imported, with nothing changed in the registry since, is not
    read again: its outcome repeats that import's with every row unchanged
    (``importers.skip``). ``force`` imports it anyway.

    Rejected rows are kept in the registry's import history. They are written to a file
    only when asked: ``rejects_file`` (every path's rejects in one CSV) or ``rejects_dir``
    (``<name>.rejects.csv`` per path in that folder), never beside the imported file.

    Raises ``Cancelled`` if the user cancels (the file being imported is rolled back;
    files finished before it stay imported, each being all-or-nothing on its own).
    """
    require_current("import")  # issue 14: refused unless the acting user's role may do this
    user = user or default_user()
    outcomes: list[ImportOutcome] = []
    path_list = [Path(p) for p in paths]
    # A dry run previews the files as one batch: each file is written inside a savepoint of
    # one outer transaction that is rolled back at the end, so an appointments file sees
    # the patients file previewed before it, and nothing is ever kept.
    dry_conn = registry.engine.connect() if dry_run else None
    dry_tx = dry_conn.begin() if dry_conn is not None else None
    if dry_conn is not None:
        begin_for_savepoints(dry_conn)
    else:
        try:
            # An import killed part-way left rows hidden; one stopped after its commit left indexes out.
            clear_abandoned(registry.engine)
            restore_missing_indexes(registry.engine)
        except ImportFileError:
            pass  # another import is still writing: each file is refused below, with its message
    try:
        _import_each(registry, path_list, outcomes, profile, mapping, dry_run, dry_conn, user,
                     rejects_dir, write_rejects, progress, cancel, encoding, force)
    finally:
        if dry_conn is not None and dry_tx is not None:
            dry_tx.rollback()
            dry_conn.close()
    if rejects_file is not None and write_rejects and not dry_run:
        rejected = [r for o in outcomes for r in o.rejections]
        if rejected:
            written = str(write_rejects_csv(Path(rejects_file), rejected))
            for o in outcomes:
                if o.rejections:
                    o.rejects_csv = written
    progress(len(path_list) * 1000, max(1, len(path_list) * 1000), "Import finished")
    return outcomes


def _import_each(registry, path_list, outcomes, profile, mapping, dry_run, dry_conn, user,
                 rejects_dir, write_rejects, progress, cancel, encoding=None, force=False) -> None:
    for index, path in enumerate(path_list):
        cancel.raise_if_cancelled()
        started = dt.datetime.now()

        reached = [0.0]  # a lazy parse reads each file as the writer takes it: the bar never goes back

        def file_progress(done: int, total: int, message: str = "", _i=index, _name=path.name, _high=reached) -> None:
            fraction = (done / total) if total else 0.0
            _high[0] = max(_high[0], min(fraction, 1.0))
            progress(int((_i + _high[0]) * 1000), len(path_list) * 1000, f"{_name}: {message}")

        outcome = ImportOutcome(path=str(path), format=None, profile=profile, ok=False, dry_run=dry_run)
        outcomes.append(outcome)
        parsed: ParsedImport | None = None
        sha = ""
        try:
            outcome.format = detect_format(path)
            if dry_conn is None:
                clear_abandoned(registry.engine)  # refuses while another import has rows pending
            sha = file_sha256(path)
            key = import_key(outcome.format, sha, profile=profile, mapping=mapping, encoding=encoding)
            if not dry_run and not force and _skip_unchanged(registry, path, outcome, key, started, user, sha):
                file_progress(1, 1, "unchanged since its last import")
                if outcome.rejections and write_rejects and rejects_dir is not None:
                    outcome.rejects_csv = str(write_rejects_csv(_rejects_path(path, rejects_dir), outcome.rejections))
                continue
            parsed = parse_path(
                path,
                profile=profile,
                mapping=mapping,
                progress=lambda d, t, m="": file_progress(d, t * 2, m),
                cancel=cancel,
                encoding=encoding,
                lazy=not dry_run,
            )
            outcome.format = parsed.format
            outcome.profile = parsed.profile
            outcome.rows_read = parsed.rows_read
            outcome.encoding = parsed.encoding
            if dry_run:
                outcome.sample_names = _sample_names(parsed)
            staged = dry_conn is None and uses_staging(registry.engine)
            with (nullcontext(dry_conn) if dry_conn is not None else _write_connection(registry, staged)) as conn, \
                    bulk_load_settings(conn):
                transaction = stage = None
                try:
                    def write_progress(d: int, t: int, m: str = "") -> None:
                        file_progress(t + d, t * 2, m)

                    if staged:  # SQLite: planned without the write lock, applied under it (importers.staging)
                        transaction, result, parsed, stage = write_staged(
                            conn, parsed,
                            partial(parse_path, path, profile=profile, mapping=mapping, cancel=cancel,
                                    encoding=encoding, lazy=True),
                            progress=write_progress, cancel=cancel)
                    else:
                        transaction = conn.begin_nested() if dry_conn is not None else conn.begin()
                        result = write_parsed(conn, parsed, progress=write_progress, cancel=cancel,
                                              release_frames=True)
                    # A lazy parse counted its rows as the writer took each file.
                    outcome.rows_read = parsed.rows_read
                    if not parsed.rows_per_file:
                        parsed.rows_per_file = {str(path): parsed.rows_read}
                    rejections = [*parsed.rejected, *result.rejected]
                    duplicates = [*parsed.duplicates, *result.duplicates]
                    outcome.duplicate_rows = duplicates
                    _account_rows(outcome, parsed, rejections, duplicates)
                    totals: TableCounts = result.totals
                    outcome.new, outcome.updated, outcome.unchanged = totals.new, totals.updated, totals.unchanged
                    outcome.rejected = len(rejections)
                    outcome.rejections = rejections
                    outcome.tables = {name: asdict(c) for name, c in result.tables.items()}
                    cancel.raise_if_cancelled()
                    if dry_run:
                        transaction.commit()  # releases the savepoint; the outer rollback undoes it all
                    else:
                        from sqlalchemy.orm import Session

                        from panelmanager.core.concurrency import begin_write

                        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                            begin_write(session)  # other workstations see the import (core.concurrency)
                            outcome.batch_id = _record_batch(session, parsed, outcome, started, user, sha, "committed", key)
                            session.commit()
                        transaction.commit()
                except BaseException:
                    if transaction is not None:
                        transaction.rollback()
                    if stage is not None:  # rows committed as pending before the rollback: deleted
                        stage.discard_pending()
                    raise
                if stage is not None:  # committed: the plain indexes the apply left out, one short lock each
                    finish_staged(conn, stage, lambda d, t, m="": file_progress(1, 1, m))
            outcome.ok = True
            # Rejected rows stay in the import history; a file is written only where the caller asked.
            if outcome.rejections and write_rejects and rejects_dir is not None and not dry_run:
                outcome.rejects_csv = str(write_rejects_csv(_rejects_path(path, rejects_dir), outcome.rejections))
        except Cancelled:
            _record_failure(registry, outcome, started, user, sha, "cancelled", "Cancelled by the user; nothing from this file was kept.", dry_run)
            raise
        except ImportFileError as exc:
            message = str(exc)
            if path.name not in message:  # e.g. "another import is still being written": which file it refused
                message = f"{path}: {message}"
            _record_failure(registry, outcome, started, user, sha, "failed", message, dry_run)
        except Exception as exc:  # an unexpected fault: nothing of this file is kept
            # A SQLAlchemy error's text lists the bound values (patient data): show the driver's message only.
            cause = getattr(exc, "orig", None) or exc
            message = (
                f"{path}: the import stopped part-way ({type(cause).__name__}: {cause}). "
                "Nothing from this file was kept; the registry is as it was before."
            )
            _record_failure(registry, outcome, started, user, sha, "failed", message, dry_run)


def _write_connection(registry: Registry, staged: bool = False):
    """The import's connection. On SQLite its transaction begins IMMEDIATE: it holds the
    write lock before it reads the rows it decides on. A deferred BEGIN read first, and a
    check-in committed by another workstation before the import's first insert then made
    the whole import fail with "database is locked" (a WAL reader cannot become a writer
    once its snapshot is stale). Check-ins now wait for the import instead, and are told
    the registry is busy if it takes longer than their retries (``core.concurrency``).

    A ``staged`` import (SQLite, ``importers.staging``) plans in a read transaction first
    and takes the write lock only to apply what it planned: its connection begins plain."""
    from panelmanager.core.db import WRITE_OPTION

    return registry.engine.execution_options(**{WRITE_OPTION: not staged}).connect()


def _skip_unchanged(registry: Registry, path: Path, outcome: ImportOutcome, key: str, started, user: str, sha: str) -> bool:
    """When ``path`` is exactly what was last imported and nothing changed since, fill
    ``outcome`` from that import (every row unchanged), record it and return True."""
    from panelmanager.core.importers import skip

    with registry.session() as session:
        previous = skip.find_unchanged(session, key)
        if previous is None:
            return False
        skip.restore_outcome(session, outcome, previous)
        outcome.ok = True
        outcome.same_file_skipped = True
        outcome.batch_id = _record_batch(session, None, outcome, started, user, sha, "committed", key)
    return True


def _record_failure(registry: Registry, outcome: ImportOutcome, started, user: str, sha: str, result: str, message: str, dry_run: bool) -> None:
    outcome.ok = False
    outcome.error = message
    outcome.new = outcome.updated = outcome.unchanged = 0
    outcome.imported = outcome.rows_rejected = outcome.duplicates = outcome.skipped = 0
    outcome.tables = {}
    outcome.files = {}
    outcome.duplicate_rows = []
    if dry_run:
        return
    try:
        with registry.session() as session:
            saved = outcome.rejections
            outcome.rejections = []
            outcome.rejected = 0
            outcome.batch_id = _record_batch(session, None, outcome, started, user, sha, result)
            outcome.rejections = saved
    except Exception:  # the history row is a courtesy; the import result stands
        pass
