"""Stored reviews: ``build_review`` saves the engine's proposals, a manager accepts or rejects them.

Running the engine never rewrites panels; accepting items applies them through
``changes._apply_changes`` with their history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.actions import audited_service
from panelmanager.core.concurrency import Conflict, begin_write, changed_by_text
from panelmanager.core.db import bulk_insert, bulk_update
from panelmanager.core.empanelment.base import (
    ACTIONABLE_KINDS,
    NO_PROVIDER,
    EmpanelmentError,
    _full_name,
    _load_current,
    _missing,
    _read,
)
from panelmanager.core.empanelment.changes import (
    _apply_changes,
)
from panelmanager.core.empanelment.proposals import (
    propose_assignments,
)
from panelmanager.core.empanelment.rules import (
    PanelRules,
)
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress
from panelmanager.core.permissions import require_current
from panelmanager.core.settings import load_settings


@dataclass
class ReviewSummary:
    """What ``build_review`` proposed. ``results`` has one row per patient the run looked at.

    results columns: patient_id, mrn, provider_id (proposed or kept; None when
    unassigned), provider (external id), provider_name, cut ("1"-"4", "preference",
    "kept" or None), reason, change (new, change, unchanged, kept, drop, unassigned),
    current_provider_id, current_provider, held (a confirmed assignment kept while the
    visits point elsewhere), proposed_provider (the held change's provider).
    """

    review_id: int
    as_of: dt.date
    lookback_months: int
    window_start: dt.date
    status: str
    new: int
    changes: int
    held: int
    drops: int
    unassigned: int
    unchanged: int
    kept: int
    results: pd.DataFrame = field(repr=False)

    def rows(self) -> list[dict[str, Any]]:
        """``results`` as JSON-ready dicts (the CLI's ``assign --json``)."""
        def plain(value: Any) -> Any:
            return None if _missing(value) else value

        out = []
        for r in self.results.sort_values("mrn").itertuples(index=False):
            cut = plain(r.cut)
            out.append(
                {
                    "patient": r.mrn,
                    "provider": plain(r.provider),
                    "provider_name": plain(r.provider_name),
                    "cut": int(cut) if isinstance(cut, str) and cut.isdigit() else cut,
                    "reason": r.reason,
                    "change": r.change,
                    "current_provider": plain(r.current_provider),
                    "proposed_provider": plain(r.proposed_provider),
                }
            )
        return out


@audited_service("assign", details=lambda _a, _k, r: {"review_id": r.review_id})
def build_review(
    session: Session,
    *,
    as_of: dt.date,
    lookback_months: int | None = None,
    user: str | None = None,
    rules: PanelRules | None = None,
    progress: Progress | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ReviewSummary:
    """Run the assignment engine and store its proposals as a new review (panels unchanged).

    Open reviews from earlier runs are superseded: their pending items are closed as
    "superseded". Unassigned patients are stored as "unassigned" items for the record
    (decision "info"). Accept the review with ``accept_review_items``.
    """
    require_current("assign")  # issue 14: refused unless the acting user's role may do this
    settings = load_settings(session)
    months = int(lookback_months or settings.lookback_months)
    results, start = propose_assignments(
        session, as_of=as_of, lookback_months=months, rules=rules, settings=settings, progress=progress, cancel=cancel
    )
    cancel.raise_if_cancelled()
    now = dt.datetime.now()
    _supersede_open_reviews(session, now)

    items = results[results["item_kind"].notna()]
    change = results["change"]
    counts = {
        "n_new": int((items["item_kind"] == "new").sum()),
        "n_change": int((items["item_kind"] == "change").sum()),
        "n_drop": int((items["item_kind"] == "drop").sum()),
        "n_unassigned": int((items["item_kind"] == "unassigned").sum()),
        "n_unchanged": int((change == "unchanged").sum()),
        "n_kept": int((change == "kept").sum()),
    }
    review = m.PanelReview(
        as_of=as_of,
        lookback_months=months,
        window_start=start,
        created_at=now,
        created_by=user,
        status="open",
        **counts,
    )
    session.add(review)
    session.flush()
    if not items.empty:
        frame = pd.DataFrame(
            {
                "review_id": review.id,
                "patient_id": items["patient_id"].astype("int64"),
                "kind": items["item_kind"],
                "old_provider_id": items["current_provider_id"].astype("Int64"),
                "new_provider_id": items["item_provider_id"].where(items["item_provider_id"] != NO_PROVIDER).astype("Int64"),
                "cut": items["item_cut"],
                "reason": items["item_reason"],
                "held": items["held"].astype(bool),
                "decision": np.where(items["item_kind"] == "unassigned", "info", "pending"),
            }
        )
        bulk_insert(session.connection(), m.PanelReviewItem.__table__, frame)
    return ReviewSummary(
        review_id=review.id,
        as_of=as_of,
        lookback_months=months,
        window_start=start,
        status=review.status,
        new=counts["n_new"],
        changes=int(((items["item_kind"] == "change") & ~items["held"]).sum()),
        held=int(items["held"].sum()),
        drops=counts["n_drop"],
        unassigned=counts["n_unassigned"],
        unchanged=counts["n_unchanged"],
        kept=counts["n_kept"],
        results=results.drop(columns=["item_kind", "item_provider_id", "item_cut", "item_reason"]),
    )


def _supersede_open_reviews(session: Session, now: dt.datetime) -> None:
    open_ids = list(session.scalars(select(m.PanelReview.id).where(m.PanelReview.status == "open")))
    if not open_ids:
        return
    i = m.PanelReviewItem
    session.execute(
        update(i)
        .where(i.review_id.in_(open_ids), i.decision == "pending")
        .values(decision="superseded", decided_at=now)
    )
    for review_id in open_ids:
        _refresh_status(session, review_id, now, None, superseding=True)


def _refresh_status(
    session: Session, review_id: int, now: dt.datetime, user: str | None, *, superseding: bool = False, closing: str | None = None
) -> str:
    """Recompute a review's status from its items' decisions.

    open: items pending; accepted: only accepted/kept items; rejected: only rejected;
    partly: a mix (or some superseded); superseded: a newer review replaced it before any
    decision. ``closing`` ("accepted"/"rejected") settles a review with no item to decide.
    """
    i = m.PanelReviewItem
    counts = dict(
        session.execute(
            select(i.decision, func.count()).where(i.review_id == review_id, i.kind.in_(ACTIONABLE_KINDS)).group_by(i.decision)
        ).all()
    )
    review = session.get(m.PanelReview, review_id)
    assert review is not None  # its items were just counted
    agreed = counts.get("accepted", 0) + counts.get("kept", 0)
    refused = counts.get("rejected", 0)
    superseded = counts.get("superseded", 0)
    if counts.get("pending", 0):
        status = "open"
    elif agreed and not refused and not superseded:
        status = "accepted"
    elif refused and not agreed and not superseded:
        status = "rejected"
    elif not agreed and not refused:
        status = "superseded" if superseding else (closing or review.status)
    else:
        status = "partly"
    if status != review.status:
        review.status = status
        if status != "open":
            review.decided_at = now
            review.decided_by = user
    session.flush()
    return status


@dataclass
class ReviewDecision:
    """What accepting or rejecting review items did."""

    review_id: int
    accepted: int = 0
    rejected: int = 0
    kept: int = 0  # held changes left as they were by an "accept all"
    stale: int = 0  # items whose patient's panel had changed since the review: skipped
    status: str = "open"
    patient_ids: tuple[int, ...] = ()  # the patients whose items were decided (the audit entry names them)


def _review_or_error(session: Session, review_id: int) -> m.PanelReview:
    review = session.get(m.PanelReview, review_id)
    if review is None:
        raise EmpanelmentError(f"There is no review {review_id}.")
    return review


def _pending_items(session: Session, review_id: int, item_ids: Sequence[int] | None) -> pd.DataFrame:
    i = m.PanelReviewItem
    stmt = select(i.id, i.patient_id, i.kind, i.old_provider_id, i.new_provider_id, i.cut, i.reason, i.held).where(
        i.review_id == review_id, i.decision == "pending", i.kind.in_(ACTIONABLE_KINDS)
    )
    df = _read(session, stmt, ["id", "patient_id", "kind", "old", "new", "cut", "reason", "held"])
    if item_ids is not None:
        wanted = {int(x) for x in item_ids}
        known = set(
            session.scalars(select(i.id).where(i.review_id == review_id, i.id.in_(sorted(wanted))))
        ) if len(wanted) <= 900 else wanted
        unknown = wanted - known
        if unknown:
            raise EmpanelmentError(
                f"Review {review_id} has no item {', '.join(str(u) for u in sorted(unknown)[:5])}."
            )
        df = df[df["id"].isin(wanted)]
    df["old"] = df["old"].fillna(NO_PROVIDER).astype("int64")
    df["new"] = df["new"].fillna(NO_PROVIDER).astype("int64")
    df["held"] = df["held"].astype(bool)
    return df


@audited_service("review_accept", patients=lambda _a, _k, r: r.patient_ids,
                 details=lambda _a, _k, r: {"review_id": r.review_id, "accepted": r.accepted, "stale": r.stale})
def accept_review_items(
    session: Session,
    review_id: int,
    item_ids: Sequence[int] | None = None,
    *,
    user: str | None = None,
) -> ReviewDecision:
    """Accept review items: ``item_ids`` one by one, or ``None`` for every pending item.

    Accepting all leaves held items (changes away from a confirmed assignment) as they
    are, marked "kept"; naming a held item's id accepts its change. An item whose
    patient's panel changed since the review (another review, a manual change) is
    skipped as "stale". Every applied change goes to the history, by ``user``.
    Accepting a review with nothing pending closes it as accepted (a review done).
    """
    require_current("review_accept")  # issue 14: refused unless the acting user's role may do this
    begin_write(session)
    review = _review_or_error(session, review_id)
    now = dt.datetime.now()
    _refuse_decided(session, review_id, item_ids)
    items = _pending_items(session, review_id, item_ids)
    decision = ReviewDecision(review_id=review_id)
    if item_ids is None:
        keep = items[items["held"]]
        items = items[~items["held"]]
    else:
        keep = items.iloc[0:0]
    current = _load_current(session)[["patient_id", "cur"]]
    merged = items.merge(current, on="patient_id", how="left")
    merged["cur"] = merged["cur"].fillna(NO_PROVIDER).astype("int64")
    fresh = merged["cur"] == merged["old"]
    valid = merged[fresh]
    stale = merged[~fresh]
    if not valid.empty:
        _apply_changes(
            session,
            patient_ids=valid["patient_id"].to_numpy(),
            old=valid["old"].to_numpy(),
            new=valid["new"].to_numpy(),
            cuts=valid["cut"].tolist(),
            reasons=valid["reason"].tolist(),
            effective_on=review.as_of,
            user=user,
            review_id=review_id,
            now=now,
        )
    _decide(session, stale["id"], "stale", user, now)
    if item_ids is None:
        # Everything still pending is decided: two set-wise updates instead of one per item.
        i = m.PanelReviewItem
        pending = (i.review_id == review_id) & (i.decision == "pending") & i.kind.in_(ACTIONABLE_KINDS)
        session.execute(update(i).where(pending, i.held.is_(False)).values(decision="accepted", decided_by=user, decided_at=now))
        session.execute(update(i).where(pending, i.held.is_(True)).values(decision="kept", decided_by=user, decided_at=now))
    else:
        _decide(session, valid["id"], "accepted", user, now)
    decision.accepted, decision.stale, decision.kept = len(valid), len(stale), len(keep)
    decision.patient_ids = tuple(int(p) for p in valid["patient_id"].unique())
    decision.status = _refresh_status(session, review_id, now, user, closing="accepted" if item_ids is None else None)
    return decision


@audited_service("review_accept", patients=lambda _a, _k, r: r.patient_ids,
                 details=lambda _a, _k, r: {"review_id": r.review_id, "rejected": r.rejected})
def reject_review_items(
    session: Session,
    review_id: int,
    item_ids: Sequence[int] | None = None,
    *,
    user: str | None = None,
) -> ReviewDecision:
    """Reject review items (``None``: every pending one); panels stay as they are.

    A rejected proposal is not proposed again by later reviews while the patient's
    panel and the engine's answer stay the same.
    """
    require_current("review_accept")  # issue 14: refused unless the acting user's role may do this
    begin_write(session)
    _review_or_error(session, review_id)
    now = dt.datetime.now()
    _refuse_decided(session, review_id, item_ids)
    items = _pending_items(session, review_id, item_ids)
    if item_ids is None:
        i = m.PanelReviewItem
        session.execute(
            update(i)
            .where(i.review_id == review_id, i.decision == "pending", i.kind.in_(ACTIONABLE_KINDS))
            .values(decision="rejected", decided_by=user, decided_at=now)
        )
    else:
        _decide(session, items["id"], "rejected", user, now)
    status = _refresh_status(session, review_id, now, user, closing="rejected" if item_ids is None else None)
    return ReviewDecision(review_id=review_id, rejected=len(items), status=status,
                          patient_ids=tuple(int(p) for p in items["patient_id"].unique()))


def _refuse_decided(session: Session, review_id: int, item_ids: Sequence[int] | None) -> None:
    """Named items that another user decided meanwhile: a conflict, not a silent no-op."""
    if not item_ids or len(item_ids) > 900:
        return
    i = m.PanelReviewItem
    row = session.execute(
        select(i.decision, i.decided_by, i.decided_at)
        .where(i.review_id == review_id, i.id.in_([int(x) for x in item_ids]), i.kind.in_(ACTIONABLE_KINDS),
               i.decision != "pending", i.decided_at.is_not(None))
        .order_by(i.decided_at.desc())
        .limit(1)
    ).first()
    if row is not None:
        raise Conflict(
            f"This review item was already {row.decision} by {changed_by_text(row.decided_by, row.decided_at)}"
            " - reload and try again."
        )


def _decide(session: Session, ids: pd.Series, decision: str, user: str | None, now: dt.datetime) -> None:
    if len(ids) == 0:
        return
    frame = pd.DataFrame(
        {"id": ids.astype("int64").to_numpy(), "decision": decision, "decided_by": user, "decided_at": now}
    )
    bulk_update(session.connection(), m.PanelReviewItem.__table__, frame)


@dataclass
class ReviewInfo:
    id: int
    as_of: dt.date
    lookback_months: int
    window_start: dt.date
    created_at: dt.datetime
    created_by: str | None
    status: str
    decided_at: dt.datetime | None
    decided_by: str | None
    new: int
    changes: int
    drops: int
    unassigned: int
    unchanged: int
    kept: int
    pending: int


def list_reviews(session: Session, *, limit: int = 50) -> list[ReviewInfo]:
    """The latest reviews first, with their counts and how many items are still pending."""
    r, i = m.PanelReview, m.PanelReviewItem
    pending = (
        select(i.review_id, func.count().label("pending"))
        .where(i.decision == "pending")
        .group_by(i.review_id)
        .subquery()
    )
    rows = session.execute(
        select(r, func.coalesce(pending.c.pending, 0))
        .outerjoin(pending, pending.c.review_id == r.id)
        .order_by(r.id.desc())
        .limit(limit)
    ).all()
    return [
        ReviewInfo(
            id=rv.id, as_of=rv.as_of, lookback_months=rv.lookback_months, window_start=rv.window_start,
            created_at=rv.created_at, created_by=rv.created_by, status=rv.status, decided_at=rv.decided_at,
            decided_by=rv.decided_by, new=rv.n_new, changes=rv.n_change, drops=rv.n_drop,
            unassigned=rv.n_unassigned, unchanged=rv.n_unchanged, kept=rv.n_kept, pending=int(n),
        )
        for rv, n in rows
    ]


def review_items(session: Session, review_id: int, *, kinds: Sequence[str] | None = None, decision: str | None = None) -> pd.DataFrame:
    """A review's items with patient and provider names, for a review screen or a listing.

    Columns: id, patient_id, mrn, patient_name, kind, old_provider, old_provider_name,
    new_provider, new_provider_name, cut, reason, held, decision, decided_by, decided_at.
    """
    i, p = m.PanelReviewItem, m.Patient
    old = m.Provider.__table__.alias("old")
    new = m.Provider.__table__.alias("new")
    stmt = (
        select(
            i.id, i.patient_id, p.mrn, p.last_name, p.first_name, i.kind,
            old.c.external_id, old.c.display_name, new.c.external_id, new.c.display_name,
            i.cut, i.reason, i.held, i.decision, i.decided_by, i.decided_at,
        )
        .join(p, p.id == i.patient_id)
        .outerjoin(old, old.c.id == i.old_provider_id)
        .outerjoin(new, new.c.id == i.new_provider_id)
        .where(i.review_id == review_id)
        .order_by(i.kind, p.last_name, p.first_name, p.mrn)
    )
    if kinds:
        stmt = stmt.where(i.kind.in_(list(kinds)))
    if decision:
        stmt = stmt.where(i.decision == decision)
    df = _read(
        session,
        stmt,
        [
            "id", "patient_id", "mrn", "last_name", "first_name", "kind", "old_provider", "old_provider_name",
            "new_provider", "new_provider_name", "cut", "reason", "held", "decision", "decided_by", "decided_at",
        ],
    )
    df.insert(3, "patient_name", _full_name(df["last_name"], df["first_name"]))
    return df.drop(columns=["last_name", "first_name"])
