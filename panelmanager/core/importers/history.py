"""The import history: batches with their counts, and the rows each one rejected."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core.models import ImportBatch, RejectedRow


@dataclass
class BatchRow:
    id: int
    file_name: str
    format: str
    profile: str | None
    user: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    rows_read: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    message: str | None


@dataclass
class RejectedRowView:
    file_name: str
    source_row: int
    reason: str
    raw: dict[str, str]


def list_batches(session: Session, limit: int = 200) -> list[BatchRow]:
    stmt = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    return [
        BatchRow(
            id=b.id, file_name=b.file_name, format=b.format, profile=b.profile, user=b.user,
            started_at=b.started_at, finished_at=b.finished_at, outcome=b.outcome, rows_read=b.rows_read,
            new=b.new, updated=b.updated, unchanged=b.unchanged, rejected=b.rejected, message=b.message,
        )
        for b in session.scalars(stmt)
    ]


def batch_rejections(session: Session, batch_id: int) -> list[RejectedRowView]:
    stmt = select(RejectedRow).where(RejectedRow.batch_id == batch_id).order_by(RejectedRow.file_name, RejectedRow.source_row)
    return [RejectedRowView(r.file_name, r.source_row, r.reason, json.loads(r.raw or "{}")) for r in session.scalars(stmt)]


def latest_data_batch_id(session: Session) -> int:
    """The newest committed import: caches (care gaps) compare it to know they are stale."""
    from sqlalchemy import func

    return session.scalar(select(func.max(ImportBatch.id)).where(ImportBatch.outcome == "committed")) or 0


def latest_batch_with_rejections(session: Session) -> int | None:
    """The newest import batch that rejected rows, or None."""
    return session.scalar(select(ImportBatch.id).where(ImportBatch.rejected > 0).order_by(ImportBatch.id.desc()).limit(1))


def export_rejections(session: Session, batch_id: int, out) -> int:
    """Write one batch's rejected rows (row, reason, original values) to ``out``; a deliberate export.

    The CSV is owner-only and formula-safe (``core.safe_export``). Returns the number of rows.
    """
    from pathlib import Path

    from panelmanager.core.importers import write_rejects_csv
    from panelmanager.core.importers.writer import Rejection

    if session.get(ImportBatch, batch_id) is None:
        raise ValueError(f"There is no import batch {batch_id}.")
    rows = batch_rejections(session, batch_id)
    write_rejects_csv(Path(out), [Rejection(file_name=r.file_name, source_row=r.source_row, reason=r.reason,
                                            raw=r.raw) for r in rows])
    return len(rows)
