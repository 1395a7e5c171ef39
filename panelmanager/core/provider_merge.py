"""Merging providers: a PM scheduler user name (GC_Klein_S) mapped to the clinician it stands for.

athenahealth's "appt schdlng prvdr" column holds the *user* who booked or owns the slot,
so one clinician appears under several user names and none of them has a specialty: an
import creates a "provider" per user name, none able to hold a panel. The practice
merges each user name into the real provider (or renames one of them and merges the
others into it):

- everything that pointed at a merged provider (visits, patients' PM PCP, panels,
  preferences, confirmations, open review items, and any later table that refers to
  providers) now points at the kept one, in one statement per table;
- each patient whose panel moves gets an assignment-history entry (from, to, why, who);
  confirmations stay valid, it is the same clinician under another name;
- the merged provider row stays, marked ``merged_into_id`` and inactive, so the next
  import of the same user name lands on the kept provider (the import writer resolves
  provider ids through ``merged_into_id``) instead of creating it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.actions import audited_service
from panelmanager.core.db import bulk_insert
from panelmanager.core.permissions import require_current


class ProviderMergeError(ValueError):
    """A merge that cannot be done; the message says why."""


@dataclass
class MergeResult:
    kept_id: int
    kept_name: str
    merged: list[tuple[int, str]]  # (id, display name) of each provider merged
    moved: dict[str, int] = field(default_factory=dict)  # table.column -> rows repointed
    panels_moved: int = 0


# Tables whose provider references record the past as it was: left alone.
_HISTORY = {("assignment_history", "from_provider_id"), ("assignment_history", "to_provider_id")}


def _provider_references() -> list[tuple[str, str]]:
    """(table, column) of every foreign key to providers.id, found from the schema."""
    refs = []
    for table in m.Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "providers" and table.name != "providers":
                pair = (table.name, fk.parent.name)
                if pair not in _HISTORY:
                    refs.append(pair)
    return sorted(set(refs))


@audited_service("settings", details=lambda _a, _k, r: {"providers_kept": r.kept_id,
                                                      "providers_merged": [i for i, _name in r.merged]})
def merge_providers(
    session: Session,
    keep_id: int,
    merge_ids: Iterable[int],
    *,
    user: str | None = None,
    today: dt.date | None = None,
) -> MergeResult:
    """Merge ``merge_ids`` into ``keep_id`` (see the module docstring); all or nothing."""
    require_current("settings")  # issue 14: refused unless the acting user's role may do this
    ids = sorted({int(i) for i in merge_ids} - {int(keep_id)})
    if not ids:
        raise ProviderMergeError("Choose at least one provider to merge into the one you keep.")
    kept = session.get(m.Provider, int(keep_id))
    if kept is None:
        raise ProviderMergeError(f"There is no provider with id {keep_id}.")
    if kept.merged_into_id is not None:
        target = session.get(m.Provider, kept.merged_into_id)
        raise ProviderMergeError(
            f"{kept.display_name} was itself merged into {target.display_name if target else 'another provider'}; "
            "keep that provider instead."
        )
    found = [session.get(m.Provider, i) for i in ids]
    missing = [i for i, p in zip(ids, found) if p is None]
    if missing:
        raise ProviderMergeError(f"There is no provider with id {', '.join(map(str, missing))}.")
    merged = [p for p in found if p is not None]
    session.flush()
    conn = session.connection()
    now = dt.datetime.now()
    today = today or now.date()
    result = MergeResult(kept_id=kept.id, kept_name=kept.display_name, merged=[(p.id, p.display_name) for p in merged])

    # Panels first, so their history names the provider the patient leaves.
    a = m.Assignment.__table__
    moving = pd.DataFrame(
        conn.execute(select(a.c.patient_id, a.c.provider_id, a.c.cut).where(a.c.provider_id.in_(ids))).all(),
        columns=["patient_id", "provider_id", "cut"],
    )
    if not moving.empty:
        names = {p.id: p.display_name for p in merged}
        history = pd.DataFrame(
            {
                "patient_id": moving["patient_id"].astype("int64"),
                "from_provider_id": moving["provider_id"].astype("int64"),
                "to_provider_id": int(kept.id),
                "changed_at": now,
                "effective_on": pd.Timestamp(today),
                "cut": moving["cut"].astype(object),
                "reason": [f"Provider merged: {names[int(p)]} is {kept.display_name}" for p in moving["provider_id"]],
                "user": user,
            }
        )
        bulk_insert(conn, m.AssignmentHistory.__table__, history)
        result.panels_moved = len(moving)

    tables = m.Base.metadata.tables
    for table_name, column in _provider_references():
        table = tables[table_name]
        values: dict = {column: int(kept.id)}
        if "row_hash" in table.c:
            # An imported row's hash covered the old provider id: the next import rewrites
            # the (identical) row once rather than keep a hash that no longer matches it.
            values["row_hash"] = None
        moved = conn.execute(update(table).where(table.c[column].in_(ids)).values(values)).rowcount
        if moved:
            result.moved[f"{table_name}.{column}"] = int(moved)

    p = m.Provider.__table__
    # Providers merged earlier into one being merged now follow it to the kept provider.
    conn.execute(update(p).where(p.c.merged_into_id.in_(ids)).values(merged_into_id=int(kept.id)))
    conn.execute(
        update(p).where(p.c.id.in_(ids)).values(merged_into_id=int(kept.id), active=False, can_hold_panel=False)
    )
    # Fill what the kept provider lacks from the merged ones (an NPI or specialty the PM sent).
    for other in merged:
        for attr in ("npi", "specialty", "credentials", "first_name", "last_name"):
            if getattr(kept, attr) in (None, "") and getattr(other, attr) not in (None, ""):
                setattr(kept, attr, getattr(other, attr))
    session.flush()
    session.expire_all()
    return result
