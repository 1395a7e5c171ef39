"""The import history: batches with their counts, and the rows each one rejected."""

from __future__ import annotations

import json
from dataclasses import dataclass
import datetime as dt

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
