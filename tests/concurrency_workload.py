"""Several workstations at once: a small practice and workers doing mixed front-desk actions.

Each worker process opens the registry itself and, like a screen, reads what it shows
(the patient's panel and its version, a pending review item) in one read, then does the
action with the version it saw through ``run_write``: confirm at check-in, reassign,
accept a review item, log an outreach call. Every outcome is reported back: done (with
what it did), a conflict or a busy registry (with the user's message), or a traceback,
which must never happen. ``check_final_state`` proves nothing was lost or overwritten.

Used by tests/core/test_concurrency.py and tests/benchmarks/bench_concurrency.py.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import traceback
from collections import Counter

N_PROVIDERS = 3
ACTIONS = ("confirm", "reassign", "accept", "outreach")


def build_practice(registry, n_patients: int = 24) -> dict:
    """Providers, assigned patients, and an open review proposing a change for each patient."""
    from panelmanager.core import models as m
    from panelmanager.core.empanelment import reassign_patient

    with registry.session() as session:
        providers = []
        for n in range(N_PROVIDERS):
            p = m.Provider(source="pm", external_id=f"DR{n}", display_name=f"Dr. Test{n}", specialty="FAMILY PRACTICE")
            session.add(p)
            session.flush()
            providers.append(p.id)
        patients = []
        for n in range(n_patients):
            p = m.Patient(mrn=f"C{n:04d}", first_name="Test", last_name=f"Patient{n}", dob=dt.date(1970, 1, 1),
                          sex="F", status="active", source="pm")
            session.add(p)
            session.flush()
            patients.append(p.id)
        for n, pid in enumerate(patients):
            reassign_patient(session, pid, providers[n % N_PROVIDERS], reason="setup", user="setup")
        now = dt.datetime(2024, 1, 1, 9, 0)
        review = m.PanelReview(as_of=dt.date(2024, 1, 1), lookback_months=36, window_start=dt.date(2021, 1, 1),
                               created_at=now, created_by="setup", status="open")
        session.add(review)
        session.flush()
        for n, pid in enumerate(patients):
            session.add(m.PanelReviewItem(review_id=review.id, patient_id=pid, kind="change",
                                          old_provider_id=providers[n % N_PROVIDERS],
                                          new_provider_id=providers[(n + 1) % N_PROVIDERS],
                                          cut="2", reason="more visits with the other provider", held=False))
        session.flush()
        return {"providers": providers, "patients": patients, "review_id": review.id}


def _one_action(registry, practice: dict, action: str, rng: random.Random, user: str):
    from sqlalchemy import select

    from panelmanager.core import models as m
    from panelmanager.core.concurrency import run_write
    from panelmanager.core.empanelment import accept_review_items, assignment_for, confirm_assignment, reassign_patient
    from panelmanager.core.outreach import log_outreach

    pid = rng.choice(practice["patients"])
    if action == "accept":
        with registry.session() as session:  # the review screen's list of pending items
            pending = session.scalars(
                select(m.PanelReviewItem.id).where(m.PanelReviewItem.review_id == practice["review_id"],
                                                   m.PanelReviewItem.decision == "pending")
            ).all()
        if not pending:
            return ("noop", None)
        item = rng.choice(pending)
        result = run_write(registry, accept_review_items, practice["review_id"], [item], user=user)
        return ("accepted" if result.accepted else "stale", item)
    if action == "outreach":
        run_write(registry, log_outreach, pid, "call", "reached", user=user)
        return ("outreach", pid)
    with registry.session() as session:  # what the check-in / patient screen shows
        info = assignment_for(session, pid)
    if action == "confirm":
        run_write(registry, confirm_assignment, pid, by="patient", outcome="confirmed", method="check-in",
                  user=user, expected_version=info.version)
        return ("confirmed", pid)
    target = rng.choice([p for p in practice["providers"] if p != info.provider_id])
    run_write(registry, reassign_patient, pid, target, reason="moved at the desk", user=user,
              expected_version=info.version)
    return ("reassigned", pid)


def run_worker(url: str, practice: dict, n_actions: int, seed: int, queue, key: str | None = None) -> None:
    """One workstation: ``n_actions`` random actions; puts its list of outcomes on ``queue``.

    ``key`` is an encrypted registry's SQLCipher key (a spawned process starts with none).
    """
    from panelmanager.core import encryption
    from panelmanager.core.concurrency import Conflict, RegistryBusy
    from panelmanager.core.db import open_registry

    rng = random.Random(seed)
    user = f"user{seed}"
    outcomes = []
    try:
        if key is not None:
            encryption.register_key(url, key)
        registry = open_registry(url)
    except Exception:  # the parent must hear of it, not wait for a report that never comes
        queue.put((user, [("open", "traceback", None, traceback.format_exc())]))
        return
    try:
        for _ in range(n_actions):
            action = rng.choice(ACTIONS)
            try:
                kind, key = _one_action(registry, practice, action, rng, user)
                outcomes.append((action, kind, key, None))
            except Conflict as exc:
                outcomes.append((action, "conflict", None, str(exc)))
            except RegistryBusy as exc:
                outcomes.append((action, "busy", None, str(exc)))
            except Exception:
                outcomes.append((action, "traceback", None, traceback.format_exc()))
    finally:
        registry.close()
    queue.put((user, outcomes))


def run_workers(url: str, practice: dict, *, processes: int = 4, actions: int = 250) -> dict[str, list]:
    import queue as queue_module

    from panelmanager.core import encryption

    key = None if "://" in url else encryption.key_for(url)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=run_worker, args=(url, practice, actions, n + 1, queue, key))
               for n in range(processes)]
    for w in workers:
        w.start()
    results: dict[str, list] = {}
    while len(results) < len(workers):
        try:
            user, outcomes = queue.get(timeout=5)
        except queue_module.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:  # a worker died without reporting (crash, killed): fail now, not after a long timeout
                raise RuntimeError(f"{len(dead)} worker process(es) died with exit code {dead[0].exitcode}") from None
            continue
        results[user] = outcomes
    for w in workers:
        w.join(timeout=60)
    return results


def check_final_state(registry, practice: dict, results: dict[str, list]) -> Counter:
    """Assert the registry holds exactly what the workers were told they did; returns outcome counts."""
    from sqlalchemy import func, select

    from panelmanager.core import models as m

    outcomes = [o for per_user in results.values() for o in per_user]
    counts = Counter(kind for _action, kind, _key, _msg in outcomes)
    tracebacks = [msg for _a, kind, _k, msg in outcomes if kind == "traceback"]
    assert not tracebacks, tracebacks[0]
    for _a, kind, _k, msg in outcomes:
        if kind in ("conflict", "busy"):
            assert "reload and try again" in msg or "try again in a minute" in msg, msg
            assert "Patient" not in msg and "C0" not in msg, msg  # no patient data in a message

    with registry.session() as session:
        # Confirmations and outreach: exactly one row per action reported done.
        assert session.scalar(select(func.count()).select_from(m.Confirmation)) == counts["confirmed"]
        assert session.scalar(select(func.count()).select_from(m.OutreachLog)) == counts["outreach"]
        # Each review item decided once, as its worker was told.
        items = dict(session.execute(select(m.PanelReviewItem.id, m.PanelReviewItem.decided_by)
                                     .where(m.PanelReviewItem.decision != "pending")).all())
        told = {key: user for user, per_user in results.items() for _a, kind, key, _m in per_user
                if kind in ("accepted", "stale")}
        assert items == told
        n_accepted = session.scalar(select(func.count()).select_from(m.PanelReviewItem)
                                    .where(m.PanelReviewItem.decision == "accepted"))
        assert n_accepted == counts["accepted"]
        # History: one row per change (setup + reassigns + accepted items), and per patient a
        # chain whose every step starts where the previous one ended, up to the current panel.
        history = session.execute(
            select(m.AssignmentHistory.patient_id, m.AssignmentHistory.from_provider_id, m.AssignmentHistory.to_provider_id)
            .order_by(m.AssignmentHistory.patient_id, m.AssignmentHistory.id)
        ).all()
        assert len(history) == len(practice["patients"]) + counts["reassigned"] + counts["accepted"]
        current = dict(session.execute(select(m.Assignment.patient_id, m.Assignment.provider_id)).all())
        last: dict[int, int | None] = {}
        for pid, old, new in history:
            assert old == last.get(pid), f"history of patient id {pid} lost an entry"
            last[pid] = new
        assert last == current
    return counts
