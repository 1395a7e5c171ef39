"""Skipping a file that is exactly what was last imported, with nothing changed since.

Importing the same export again is common (a nightly job, a user clicking Import twice).
Re-reading 5M rows to find them all unchanged took most of a first import's time
(issue 16). A file is skipped, and its outcome is the previous one with every row
"unchanged", only when all of these hold:

- its **import key** matches a committed import: the digest of the file's bytes and of
  everything else that decides what the import writes: the format, the profile and the
  column mapping asked for, the text encoding asked for, every import profile and the
  visit-type rules in ``resources/import_profiles`` (a practice that edits a profile
  gets a real re-import), and the importer's own version (``IMPORTER_VERSION``, bumped
  whenever the importer would write something else from the same file);
- every committed import after that one changed nothing (no new or updated rows), so
  no other file has since overwritten what this one wrote;
- the registry's change counter (bumped by every write service: assignments, settings,
  outreach, risk...) is the value it had when that import committed, and no rows were
  added to the imported tables since (their highest ids are unchanged).

Otherwise the file is imported as usual (where unchanged rows are still found cheaply by
their stored row hashes). A dry run is never skipped: it previews the real work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models

# Bump whenever the importer would write anything else from the same file and settings.
IMPORTER_VERSION = "2026-12-issue16"

_WATCHED = ("locations", "providers", "patients", "patient_identifiers", "visits", "observations",
            "immunizations", "procedures", "conditions", "medications")


def _profiles_fingerprint() -> str:
    from panelmanager.core.importers.profiles import profiles_dir

    digest = hashlib.sha256()
    folder = profiles_dir()
    if folder.is_dir():
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                digest.update(str(item.relative_to(folder)).encode())
                digest.update(item.read_bytes())
    return digest.hexdigest()


def import_key(
    fmt: str,
    sha: str,
    *,
    profile: str | None,
    mapping: Mapping[str, str] | None,
    encoding: str | None,
) -> str:
    """The digest of the file's bytes (``sha``) and of everything that decides what is written."""
    from panelmanager import __version__

    parts = [
        IMPORTER_VERSION,
        str(__version__),
        fmt,
        sha,
        profile or "",
        json.dumps(sorted((str(k), str(v)) for k, v in (mapping or {}).items())),
        encoding or "",
    ]
    if fmt != "synthea-csv":  # PM exports are read through the profiles
        parts.append(_profiles_fingerprint())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def max_ids(session: Session) -> dict[str, int]:
    """The highest id of each imported table (one index probe each)."""
    out: dict[str, int] = {}
    for name in _WATCHED:
        table = models.Base.metadata.tables[name]
        out[name] = int(session.execute(select(func.max(table.c.id))).scalar() or 0)
    return out


def current_counter(session: Session) -> int:
    from panelmanager.core.concurrency import change_counter

    return int(change_counter(session))


def summary_json(outcome, ids: dict[str, int]) -> str:
    """The parts of an outcome a skipped re-import shows again (no raw row values)."""
    return json.dumps(
        {
            "rows_read": outcome.rows_read,
            "imported": outcome.imported,
            "rows_rejected": outcome.rows_rejected,
            "duplicates": outcome.duplicates,
            "skipped": outcome.skipped,
            "files": outcome.files,
            "tables": outcome.tables,
            "encoding": outcome.encoding,
            "duplicate_rows": [[str(r.file_name), int(r.source_row), r.reason] for r in outcome.duplicate_rows],
            "max_ids": ids,
        }
    )


def find_unchanged(session: Session, key: str) -> models.ImportBatch | None:
    """The committed import this file can stand on, or None (see the module's rules)."""
    batch_t = models.ImportBatch
    previous = session.execute(
        select(batch_t)
        .where(batch_t.import_key == key, batch_t.outcome == "committed")
        .order_by(batch_t.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is None or previous.summary is None or previous.change_counter is None:
        return None
    later_writes = session.execute(
        select(func.count())
        .select_from(batch_t)
        .where(batch_t.id > previous.id, batch_t.outcome == "committed", (batch_t.new > 0) | (batch_t.updated > 0))
    ).scalar()
    if later_writes:
        return None
    if previous.change_counter != current_counter(session):
        return None
    try:
        summary = json.loads(previous.summary)
    except ValueError:
        return None
    if summary.get("max_ids") != max_ids(session):
        return None
    return previous


def restore_outcome(session: Session, outcome, previous: models.ImportBatch) -> None:
    """Fill ``outcome`` from ``previous``: the same rows, all of them unchanged."""
    from panelmanager.core.importers.writer import Rejection

    assert previous.summary is not None  # the batch found unchanged above has its summary
    summary = json.loads(previous.summary)
    outcome.format = previous.format
    outcome.profile = previous.profile
    outcome.rows_read = int(summary["rows_read"])
    outcome.imported = int(summary["imported"])
    outcome.rows_rejected = int(summary["rows_rejected"])
    outcome.duplicates = int(summary["duplicates"])
    outcome.skipped = int(summary["skipped"])
    outcome.files = summary["files"]
    outcome.encoding = summary.get("encoding")
    outcome.tables = {
        name: {"new": 0, "updated": 0, "unchanged": c["new"] + c["updated"] + c["unchanged"]}
        for name, c in summary["tables"].items()
    }
    outcome.new = outcome.updated = 0
    outcome.unchanged = previous.new + previous.updated + previous.unchanged
    outcome.duplicate_rows = [Rejection(file_name=f, source_row=r, reason=why) for f, r, why in summary["duplicate_rows"]]
    rows = session.execute(
        select(models.RejectedRow.file_name, models.RejectedRow.source_row, models.RejectedRow.reason,
               models.RejectedRow.raw)
        .where(models.RejectedRow.batch_id == previous.id)
        .order_by(models.RejectedRow.id)
    ).all()
    outcome.rejections = [
        Rejection(file_name=f, source_row=int(r), reason=why, raw=json.loads(raw) if raw else {})
        for f, r, why, raw in rows
    ]
    outcome.rejected = len(outcome.rejections)


def unchanged_message(path: Path, previous: models.ImportBatch) -> str:
    when = previous.finished_at.strftime("%Y-%m-%d %H:%M") if previous.finished_at else "earlier"
    return f"{path.name}: unchanged since its import of {when} (import {previous.id}); nothing to write"
