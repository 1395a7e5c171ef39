"""One panel review by its id, for ``panelmanager review ID`` and the Panels screen.

``empanelment.list_reviews`` lists the latest reviews; a client that needs one review (after
accepting or rejecting its items, say) asks for it here instead of scanning every review.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.empanelment import EmpanelmentError, ReviewInfo

__all__ = ["get_review", "latest_review_id"]


def get_review(session: Session, review_id: int) -> ReviewInfo:
    """The review with its counts and how many items are still pending; ``EmpanelmentError`` if there is none."""
    review = session.get(m.PanelReview, int(review_id))
    if review is None:
        raise EmpanelmentError(f"There is no review {review_id}; 'panelmanager review' lists the latest.")
    item = m.PanelReviewItem
    pending = session.scalar(
        select(func.count()).select_from(item).where(item.review_id == review.id, item.decision == "pending")
    )
    return ReviewInfo(
        id=review.id, as_of=review.as_of, lookback_months=review.lookback_months, window_start=review.window_start,
        created_at=review.created_at, created_by=review.created_by, status=review.status,
        decided_at=review.decided_at, decided_by=review.decided_by, new=review.n_new, changes=review.n_change,
        drops=review.n_drop, unassigned=review.n_unassigned, unchanged=review.n_unchanged, kept=review.n_kept,
        pending=int(pending or 0),
    )


def latest_review_id(session: Session) -> int | None:
    """The newest review's id, or None before the first ``assign``."""
    return session.scalar(select(func.max(m.PanelReview.id)))
