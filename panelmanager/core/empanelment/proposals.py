"""Empanelment: every active patient on one provider's panel, confirmed and reviewed.

The assignment engine is the "4-cut" method of the Safety Net Medical Home Initiative
empanelment guide (Part 2) and Murray, Davies & Boushon (Fam Pract Manag 2007). Over the
look-back window (default 18 months ending on ``as_of``) it counts each active, living
patient's *completed primary-care visits* with *providers who can hold a panel* (both
defined in ``resources/panel_specialties.toml``) and picks:

1. the only such provider seen;
2. else the provider with more than half of the visits;
3. else the provider of the most recent well visit / physical;
4. else the provider of the most recent visit.

Ties on the same day (cuts 3 and 4) go to the provider with more visits, then to the
lower provider id. A recorded patient preference wins over the cuts; a confirmed
assignment is kept unless the manager accepts a change; patients with no qualifying
visit are listed as "needs assignment".

Running the engine never rewrites panels: ``build_review`` stores a review whose items a
manager accepts or rejects (``accept_review_items`` / ``reject_review_items``), one by
one or all at once. For each patient the run decides:

- *new*: on no panel, and a preference or the cuts name a provider;
- *unassigned* ("needs assignment"): on no panel and nothing names a provider;
- *unchanged*: the cuts (or the preference) name the current provider;
- *change*: they name another provider. When the current assignment was confirmed (by
  the patient or the provider) the change is *held*: the patient is *kept* on the
  current panel unless the manager accepts that item by itself;
- *kept*: no qualifying visit in the window, the current panel stands (patients leave
  panels through inactivation, not by being unseen for 18 months);
- *drop*: the patient died, moved or is inactive, or the current provider no longer
  holds a panel / said "not mine" and no visit points elsewhere.

A proposal the manager rejected (or kept) is not made again while nothing changes.
Every change of a patient's assignment - by a review, a manual reassignment, a
patient's stated preference or an inactivation - is written to ``assignment_history``
with when, from, to, why and by whom.

The engine is set-based: one SQL pass over the window's completed visits, answered from
a covering index (``ix_visits_empanelment``), aggregated per (patient, provider) with
pandas; the decision table is a handful of numpy masks. It never loads ORM objects per
patient. Single-patient services (confirmations, preferences, manual reassignment) use
the ORM.

Services take a ``Session`` and return small dataclasses; the CLI and the GUI call the
same functions. The caller owns the transaction (nothing here commits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.alive import alive_and_active_mask
from panelmanager.core.empanelment.base import (
    ACTIONABLE_KINDS,
    CUT_KEPT,
    CUT_PREFERENCE,
    NO_PROVIDER,
    _iso,
    _load_current,
    _missing,
    _read,
)
from panelmanager.core.empanelment.cuts import (
    cut_reasons,
    four_cut,
    qualifying_visit_pairs,
)
from panelmanager.core.empanelment.rules import (
    PanelRules,
    _rules_for,
    panel_providers,
    window_start_for,
)
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, StepProgress
from panelmanager.core.settings import PracticeSettings, load_settings


def _status_reasons(status: pd.Series, deceased: pd.Series, as_of: dt.date) -> pd.Series:
    dead_by_date = deceased.notna() & (deceased <= pd.Timestamp(as_of))
    reason = pd.Series("Inactive patient", index=status.index, dtype=object)
    reason[status == m.PatientStatus.MOVED.value] = "Moved away"
    reason[status == m.PatientStatus.DECEASED.value] = "Deceased"
    died = "Died " + deceased.dt.strftime("%Y-%m-%d")
    reason[dead_by_date] = died[dead_by_date]
    return reason


def _load_patients(session: Session) -> pd.DataFrame:
    p = m.Patient
    df = _read(session, select(p.id, p.mrn, p.status, p.deceased_date), ["patient_id", "mrn", "status", "deceased_date"], raw=True)
    df["deceased_date"] = pd.to_datetime(df["deceased_date"])
    return df


def _disputed_pairs(session: Session) -> pd.DataFrame:
    """(patient, provider) pairs whose latest provider confirmation is "not-mine"."""
    c = m.Confirmation
    df = _read(
        session,
        select(c.patient_id, c.provider_id, c.outcome, c.recorded_on, c.recorded_at, c.id).where(
            c.party == "provider", c.provider_id.is_not(None)
        ),
        ["patient_id", "provider_id", "outcome", "recorded_on", "recorded_at", "id"],
    )
    if df.empty:
        return pd.DataFrame(
            {"patient_id": pd.Series(dtype="int64"), "provider_id": pd.Series(dtype="int64"), "recorded_on": pd.Series(dtype=object)}
        )
    df = df.sort_values(["recorded_at", "id"]).drop_duplicates(["patient_id", "provider_id"], keep="last")
    df = df[df["outcome"] == "not-mine"]
    return df[["patient_id", "provider_id", "recorded_on"]].astype({"patient_id": "int64", "provider_id": "int64"})


def _load_preferences(session: Session) -> pd.DataFrame:
    pp = m.PatientPreference
    df = _read(
        session, select(pp.patient_id, pp.provider_id, pp.recorded_on, pp.user), ["patient_id", "pref", "pref_on", "pref_user"]
    )
    return df.astype({"patient_id": "int64"}) if not df.empty else df


def _previous_refusals(session: Session) -> pd.DataFrame:
    """The latest rejected (or kept) proposal per patient: the same proposal is not made again."""
    i = m.PanelReviewItem
    df = _read(
        session,
        select(i.patient_id, i.kind, i.old_provider_id, i.new_provider_id, i.decided_at, i.id).where(
            i.decision.in_(("rejected", "kept")), i.kind.in_(ACTIONABLE_KINDS)
        ),
        ["patient_id", "kind", "old", "new", "decided_at", "id"],
    )
    if df.empty:
        return df
    df = df.sort_values("id").drop_duplicates("patient_id", keep="last")
    df["patient_id"] = df["patient_id"].astype("int64")
    df["old"] = df["old"].fillna(NO_PROVIDER).astype("int64")
    df["new"] = df["new"].fillna(NO_PROVIDER).astype("int64")
    return df


@dataclass
class _Inputs:
    """What the engine reads before counting visits (one query each, no per-patient loads)."""

    providers: pd.DataFrame
    names: dict[int, str]  # provider id -> display name
    external: dict[int, str]  # provider id -> external id
    eligible: set[int]  # providers who hold a panel
    patients: pd.DataFrame
    current: pd.DataFrame
    prefs: pd.DataFrame
    disputed: pd.DataFrame
    refusals: pd.DataFrame

    def name(self, ids: np.ndarray) -> list[str]:
        return [self.names.get(int(i), f"provider {i}") for i in ids]


@dataclass
class _Targets:
    """Per patient (aligned with the patient frame): the current panel and the provider the run points to."""

    cur: np.ndarray  # current provider (NO_PROVIDER: none)
    tgt: np.ndarray  # the preference, else the cuts (NO_PROVIDER: none)
    tgt_cut: np.ndarray  # "1"-"4", "preference" or None
    tgt_reason: np.ndarray
    in_scope: np.ndarray  # alive and active on as_of
    has_cur: np.ndarray
    has_pref: np.ndarray
    has_tgt: np.ndarray
    cur_holds: np.ndarray  # the current provider still holds a panel and did not say "not mine"
    confirmed: np.ndarray  # the current assignment was confirmed by the patient or the provider
    patient_confirmed: np.ndarray


@dataclass
class _Outcomes:
    """The decision table: one boolean mask per outcome (see the module docstring)."""

    drop_status: np.ndarray
    new: np.ndarray
    unassigned: np.ndarray
    same: np.ndarray
    kept_no_visit: np.ndarray
    drop_provider: np.ndarray
    change: np.ndarray
    held: np.ndarray
    leaving: np.ndarray  # a change because the current provider said "not mine" or holds no panel any more


@dataclass
class _Rows:
    """The two views of each patient: the review item to store, and what the run decides."""

    kind: np.ndarray
    item_provider: np.ndarray
    item_cut: np.ndarray
    item_reason: np.ndarray
    result_kind: np.ndarray
    result_provider: np.ndarray
    result_cut: np.ndarray
    result_reason: np.ndarray
    proposed: np.ndarray
    held: np.ndarray


def propose_assignments(
    session: Session,
    *,
    as_of: dt.date,
    lookback_months: int | None = None,
    rules: PanelRules | None = None,
    settings: PracticeSettings | None = None,
    progress: Progress | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> tuple[pd.DataFrame, dt.date]:
    """Run the engine without writing anything: (results frame, window start).

    The frame has the ``ReviewSummary.results`` columns plus the item to store:
    item_kind (new, change, drop, unassigned or None), item_provider_id, item_cut,
    item_reason, held.
    """
    settings = settings or load_settings(session)
    rules = _rules_for(settings, rules)
    months = int(lookback_months or settings.lookback_months)
    start = window_start_for(as_of, months)
    steps = StepProgress(progress, 5, cancel)

    steps.step("Reading providers and patients")
    inputs = _read_inputs(session, rules, settings)

    steps.step("Counting visits in the look-back window")
    pairs = _undisputed_pairs(session, inputs, start=start, as_of=as_of, rules=rules)

    steps.step("Applying the four cuts")
    cuts = four_cut(pairs)

    steps.step("Comparing with the current panels")
    df = _patient_frame(inputs, cuts, start=start, as_of=as_of)

    steps.step("Writing reasons")
    since = start.isoformat()
    targets = _targets(df, inputs)
    outcomes = _decision_table(targets)
    rows = _item_rows(df, inputs, targets, outcomes, since=since, as_of=as_of)
    _result_rows(df, inputs, targets, outcomes, rows, since=since)
    _skip_refused_proposals(df, inputs, targets, rows)
    results = _results_frame(df, inputs, targets, rows)
    steps.finish("Proposals ready")
    return results, start


def _read_inputs(session: Session, rules: PanelRules, settings: PracticeSettings) -> _Inputs:
    """Providers (with who holds a panel), patients, current panels, preferences, disputes and refusals."""
    providers = panel_providers(session, rules=rules, settings=settings)
    return _Inputs(
        providers=providers,
        names=dict(zip(providers["id"].astype("int64"), providers["display_name"])),
        external=dict(zip(providers["id"].astype("int64"), providers["external_id"])),
        eligible=set(providers.loc[providers["holds_panel"], "id"].astype("int64")),
        patients=_load_patients(session),
        current=_load_current(session),
        prefs=_load_preferences(session),
        disputed=_disputed_pairs(session),
        refusals=_previous_refusals(session),
    )


def _undisputed_pairs(session: Session, inputs: _Inputs, *, start: dt.date, as_of: dt.date, rules: PanelRules) -> pd.DataFrame:
    """Visits per (patient, panel provider) in the window, without pairs the provider marked "not mine"."""
    pairs = qualifying_visit_pairs(session, start=start, end=as_of, rules=rules, provider_ids=inputs.eligible)
    disputed = inputs.disputed
    if not disputed.empty and not pairs.empty:
        # A provider who said "not mine" is not proposed again for that patient.
        marked = pairs.merge(disputed[["patient_id", "provider_id"]], how="left", indicator=True)
        pairs = pairs[(marked["_merge"] == "left_only").to_numpy()]
    return pairs


def _patient_frame(inputs: _Inputs, cuts: pd.DataFrame, *, start: dt.date, as_of: dt.date) -> pd.DataFrame:
    """One row per patient the run looks at: current panel, preference, the cuts' answer, dispute and refusal.

    Patients out of scope (dead, moved, inactive on ``as_of``) and on no panel are left out.
    """
    names, providers = inputs.names, inputs.providers
    cuts = cuts.assign(alg_reason=cut_reasons(cuts, names, start))
    df = inputs.patients.merge(inputs.current, on="patient_id", how="left").merge(inputs.prefs, on="patient_id", how="left")
    df = df.merge(
        cuts[["patient_id", "provider_id", "cut", "alg_reason"]].rename(columns={"provider_id": "alg", "cut": "alg_cut"}),
        on="patient_id",
        how="left",
    )
    # A death recorded after as_of: the patient was alive then (core.alive).
    df["in_scope"] = alive_and_active_mask(df["status"], df["deceased_date"], as_of)
    df["cur"] = df["cur"].fillna(NO_PROVIDER).astype("int64")
    df["alg"] = df["alg"].fillna(NO_PROVIDER).astype("int64")
    active_ids = set(providers.loc[providers["active"].fillna(True).astype(bool), "id"].astype("int64"))
    pref = df["pref"].fillna(NO_PROVIDER).astype("int64")
    df["pref"] = pref.where(pref.isin(active_ids), NO_PROVIDER)
    # Out of scope and on no panel: nothing to say about them.
    df = df[df["in_scope"] | (df["cur"] != NO_PROVIDER)].reset_index(drop=True)
    df = df.merge(
        inputs.disputed.rename(columns={"provider_id": "cur", "recorded_on": "disputed_on"}), on=["patient_id", "cur"], how="left"
    )
    refusals = inputs.refusals
    if not refusals.empty:
        df = df.merge(
            refusals[["patient_id", "kind", "old", "new", "decided_at"]].rename(
                columns={"kind": "prior_kind", "old": "prior_old", "new": "prior_new", "decided_at": "prior_at"}
            ),
            on="patient_id",
            how="left",
        )
    else:
        df = df.assign(prior_kind=None, prior_old=NO_PROVIDER, prior_new=NO_PROVIDER, prior_at=pd.NaT)
    return df


def _targets(df: pd.DataFrame, inputs: _Inputs) -> _Targets:
    """Where each patient is and where the run points: the preference wins over the cuts."""
    n = len(df)
    eligible = inputs.eligible
    cur = df["cur"].to_numpy()
    has_cur = cur != NO_PROVIDER
    has_pref = df["pref"].to_numpy() != NO_PROVIDER
    tgt = np.where(has_pref, df["pref"].to_numpy(), df["alg"].to_numpy()).astype("int64")
    has_tgt = tgt != NO_PROVIDER
    cur_ok = np.isin(cur, np.fromiter(eligible, dtype="int64")) if eligible else np.zeros(n, dtype=bool)
    disputed_cur = df["disputed_on"].notna().to_numpy()
    patient_confirmed = df["patient_confirmed_on"].notna().to_numpy()
    confirmed = has_cur & (patient_confirmed | df["provider_confirmed_on"].notna().to_numpy())
    alg_cut_num = pd.to_numeric(df["alg_cut"], errors="coerce").to_numpy(dtype="float64")
    tgt_cut = np.full(n, None, dtype=object)
    known_cut = ~np.isnan(alg_cut_num)
    tgt_cut[known_cut] = alg_cut_num[known_cut].astype("int64").astype(str).astype(object)
    tgt_cut[has_pref] = CUT_PREFERENCE
    tgt_cut[~has_tgt] = None

    tgt_reason = df["alg_reason"].to_numpy(dtype=object).copy()
    if has_pref.any():
        by = [f" by {u}" if isinstance(u, str) and u else "" for u in df.loc[has_pref, "pref_user"]]
        tgt_reason[has_pref] = [
            f"Patient's preference, recorded {_iso(d)}{b}" for d, b in zip(df.loc[has_pref, "pref_on"], by)
        ]
    return _Targets(
        cur=cur,
        tgt=tgt,
        tgt_cut=tgt_cut,
        tgt_reason=tgt_reason,
        in_scope=df["in_scope"].to_numpy(dtype=bool),
        has_cur=has_cur,
        has_pref=has_pref,
        has_tgt=has_tgt,
        cur_holds=cur_ok & ~disputed_cur,
        confirmed=confirmed,
        patient_confirmed=patient_confirmed,
    )


def _decision_table(t: _Targets) -> _Outcomes:
    """The decision table of the module docstring: one mask per outcome."""
    in_scope, has_cur, has_tgt = t.in_scope, t.has_cur, t.has_tgt
    change = in_scope & has_cur & has_tgt & (t.tgt != t.cur)
    return _Outcomes(
        drop_status=~in_scope,
        new=in_scope & ~has_cur & has_tgt,
        unassigned=in_scope & ~has_cur & ~has_tgt,
        same=in_scope & has_cur & has_tgt & (t.tgt == t.cur),
        kept_no_visit=in_scope & has_cur & ~has_tgt & t.cur_holds,
        drop_provider=in_scope & has_cur & ~has_tgt & ~t.cur_holds,
        change=change,
        held=change & (t.tgt_cut != CUT_PREFERENCE) & t.confirmed & t.cur_holds,
        leaving=change & ~t.cur_holds,
    )


def _why_current_goes(df: pd.DataFrame, inputs: _Inputs, t: _Targets, mask: np.ndarray) -> list[str]:
    """Why the current provider's panel no longer holds the patient."""
    out = []
    for pid, disputed_on in zip(t.cur[mask], df.loc[mask, "disputed_on"]):
        if not _missing(disputed_on):
            out.append(f"{inputs.names.get(int(pid))} marked the patient not theirs on {_iso(disputed_on)}")
        else:
            out.append(f"{inputs.names.get(int(pid))} no longer holds a panel")
    return out


def _confirmed_text(df: pd.DataFrame, t: _Targets, mask: np.ndarray) -> list[str]:
    """Who confirmed the current assignment, and when."""
    out = []
    for by_patient, pc, vc in zip(
        t.patient_confirmed[mask], df.loc[mask, "patient_confirmed_on"], df.loc[mask, "provider_confirmed_on"]
    ):
        out.append(f"confirmed by the patient on {_iso(pc)}" if by_patient else f"confirmed by the provider on {_iso(vc)}")
    return out


def _item_rows(
    df: pd.DataFrame, inputs: _Inputs, t: _Targets, o: _Outcomes, *, since: str, as_of: dt.date
) -> _Rows:
    """The review item for each patient: kind, proposed provider, cut and the reason a manager reads."""
    n = len(df)
    tgt, tgt_reason = t.tgt, t.tgt_reason
    kind = np.select(
        [o.drop_status | o.drop_provider, o.new, o.unassigned, o.change], ["drop", "new", "unassigned", "change"], None
    )  # type: ignore[call-overload]  # None is a fine scalar; numpy's stubs do not list it
    kind = kind.astype(object)
    item_provider = np.where(o.new | o.change, tgt, NO_PROVIDER).astype("int64")
    item_cut = np.where(o.new | o.change, t.tgt_cut, None).astype(object)  # type: ignore[call-overload]  # None is a fine scalar; numpy's stubs do not list it
    item_reason = np.full(n, "", dtype=object)
    item_reason[o.new | o.change] = tgt_reason[o.new | o.change]
    if o.drop_status.any():
        item_reason[o.drop_status] = _status_reasons(
            df.loc[o.drop_status, "status"], df.loc[o.drop_status, "deceased_date"], as_of
        ).to_numpy(dtype=object)
    if o.drop_provider.any():
        item_reason[o.drop_provider] = [
            f"{why}; no qualifying visit points to another provider" for why in _why_current_goes(df, inputs, t, o.drop_provider)
        ]
    item_reason[o.unassigned] = f"Needs assignment: no completed primary-care visit with a panel provider since {since}"
    if o.leaving.any():
        item_reason[o.leaving] = [
            f"{why}; {r}" for why, r in zip(_why_current_goes(df, inputs, t, o.leaving), tgt_reason[o.leaving])
        ]
    providers = inputs.providers
    closed = set(providers.loc[~providers["panel_open"].fillna(True).astype(bool), "id"].astype("int64"))
    to_closed = (
        (o.new | (o.change & ~o.held)) & np.isin(tgt, np.fromiter(closed, dtype="int64")) if closed else np.zeros(n, bool)
    )
    if to_closed.any():
        item_reason[to_closed] = [
            f"{r}; {tname}'s panel is closed to new patients"
            for r, tname in zip(item_reason[to_closed], inputs.name(tgt[to_closed]))
        ]
    if o.held.any():
        item_reason[o.held] = [
            f"{r}; {cname} was {text}"
            for r, cname, text in zip(tgt_reason[o.held], inputs.name(t.cur[o.held]), _confirmed_text(df, t, o.held))
        ]
    empty = np.empty(0, dtype=object)
    return _Rows(
        kind=kind, item_provider=item_provider, item_cut=item_cut, item_reason=item_reason,
        result_kind=empty, result_provider=empty, result_cut=empty, result_reason=empty, proposed=empty, held=o.held,
    )


def _result_rows(df: pd.DataFrame, inputs: _Inputs, t: _Targets, o: _Outcomes, rows: _Rows, *, since: str) -> None:
    """What the run decides for each patient (kept and held rows keep the current panel)."""
    cur, tgt, tgt_reason = t.cur, t.tgt, t.tgt_reason
    kept = o.kept_no_visit | o.held
    result_kind = rows.kind.copy()
    result_kind[o.same] = "unchanged"
    result_kind[kept] = "kept"
    rows.result_kind = result_kind
    rows.result_provider = np.where(o.same | kept, cur, rows.item_provider).astype("int64")
    result_cut = rows.item_cut.copy()
    result_cut[o.same] = t.tgt_cut[o.same]
    result_cut[kept] = CUT_KEPT
    rows.result_cut = result_cut
    result_reason = rows.item_reason.copy()
    result_reason[o.same] = tgt_reason[o.same]
    if o.kept_no_visit.any():
        result_reason[o.kept_no_visit] = [
            f"Kept: no qualifying visit since {since}; on {cname}'s panel since {_iso(d)}"
            for cname, d in zip(inputs.name(cur[o.kept_no_visit]), df.loc[o.kept_no_visit, "assigned_on"])
        ]
    if o.held.any():
        result_reason[o.held] = [
            f"Kept: {text}; the visits point to {tname}: {r}"
            for text, tname, r in zip(_confirmed_text(df, t, o.held), inputs.name(tgt[o.held]), tgt_reason[o.held])
        ]
    rows.result_reason = result_reason
    rows.proposed = np.where(o.held, tgt, NO_PROVIDER)
    rows.kind[o.same | o.kept_no_visit] = None


def _skip_refused_proposals(df: pd.DataFrame, inputs: _Inputs, t: _Targets, rows: _Rows) -> None:
    """An identical proposal the manager already rejected (or kept) is not made again."""
    cur, kind, item_provider = t.cur, rows.kind, rows.item_provider
    prior_old = df["prior_old"].fillna(NO_PROVIDER).astype("int64").to_numpy()
    prior_new = df["prior_new"].fillna(NO_PROVIDER).astype("int64").to_numpy()
    refused = (
        np.isin(kind, ACTIONABLE_KINDS)
        & (df["prior_kind"].to_numpy(dtype=object) == kind)
        & (prior_old == cur)
        & (prior_new == item_provider)
    )
    if not refused.any():
        return
    names = inputs.names
    refused_new = refused & (kind == "new")
    refused_other = refused & (kind != "new")
    decided_on = np.array([_iso(d) for d in df["prior_at"]], dtype=object)
    if refused_other.any():
        rows.result_reason[refused_other] = [
            f"Kept: the manager rejected {'a change to ' + names.get(int(p), '') if p != NO_PROVIDER else 'dropping the patient'} on {d}"
            for p, d in zip(item_provider[refused_other], decided_on[refused_other])
        ]
        rows.result_kind[refused_other] = "kept"
        rows.result_provider[refused_other] = cur[refused_other]
        rows.result_cut[refused_other] = CUT_KEPT
        rows.proposed[refused_other] = NO_PROVIDER
        rows.held = rows.held & ~refused_other
        kind[refused_other] = None
    if refused_new.any():
        text = [
            f"Needs assignment: the manager rejected {tname} on {d}"
            for tname, d in zip(inputs.name(t.tgt[refused_new]), decided_on[refused_new])
        ]
        kind[refused_new] = "unassigned"
        rows.item_reason[refused_new] = text
        rows.result_reason[refused_new] = text
        rows.result_kind[refused_new] = "unassigned"
        rows.result_provider[refused_new] = NO_PROVIDER
        rows.result_cut[refused_new] = None
        item_provider[refused_new] = NO_PROVIDER
        rows.item_cut[refused_new] = None


def _results_frame(df: pd.DataFrame, inputs: _Inputs, t: _Targets, rows: _Rows) -> pd.DataFrame:
    """The ``ReviewSummary.results`` columns plus the item to store (see ``propose_assignments``)."""

    def lookup(ids: np.ndarray, mapping: dict[int, str]) -> pd.Series:
        return pd.Series(ids).map(mapping).astype(object).where(pd.Series(ids) != NO_PROVIDER, None)

    def nullable(ids: np.ndarray) -> pd.Series:
        return pd.Series(ids, dtype="int64").where(pd.Series(ids) != NO_PROVIDER).astype("Int64")

    return pd.DataFrame(
        {
            "patient_id": df["patient_id"].astype("int64"),
            "mrn": df["mrn"],
            "provider_id": nullable(rows.result_provider),
            "provider": lookup(rows.result_provider, inputs.external),
            "provider_name": lookup(rows.result_provider, inputs.names),
            "cut": pd.Series(rows.result_cut, dtype=object),
            "reason": pd.Series(rows.result_reason, dtype=object),
            "change": pd.Series(rows.result_kind, dtype=object),
            "current_provider_id": nullable(t.cur),
            "current_provider": lookup(t.cur, inputs.external),
            "held": rows.held,
            "proposed_provider": lookup(rows.proposed, inputs.external),
            "item_kind": pd.Series(rows.kind, dtype=object),
            "item_provider_id": rows.item_provider,
            "item_cut": pd.Series(rows.item_cut, dtype=object),
            "item_reason": pd.Series(rows.item_reason, dtype=object),
        }
    )
