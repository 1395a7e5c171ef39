"""The audit trail's cost (issue 14; target: under 5%) on check-in confirm and on a care-gaps run.

1. ``confirm``: the check-in confirm (``confirm_assignment(by="patient", method="check-in")``) in its
   own write transaction, called directly vs through ``core.actions.perform`` (permission check +
   the hash-chained audit row in the same transaction). Rounds alternate the two so machine load
   hits both alike; medians per confirm.
2. ``gaps``: ``refresh_gaps`` over the demo practice, directly vs through ``perform`` (one audit row
   for the run; the rows it writes do not grow with the registry).
3. ``bulk ids``: appending one entry that names 5,000 patients (a letters run).

    python tests/benchmarks/bench_audit.py [--patients 20000] [--confirms 300] [--rounds 3] [--skip-gaps]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

AS_OF = dt.date(2024, 2, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--confirms", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-gaps", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import select

    from panelmanager.core import audit, auth
    from panelmanager.core import models as m
    from panelmanager.core.actions import perform
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo
    from panelmanager.core.empanelment import confirm_assignment
    from panelmanager.core.measures.gaps import refresh_gaps

    with tempfile.TemporaryDirectory() as folder:
        registry = open_registry(Path(folder) / "bench.sqlite3", create=True)
        start = time.perf_counter()
        load_demo(registry, patients=args.patients, seed=1, as_of=AS_OF)
        print(f"demo practice of {args.patients:,} patients loaded in {time.perf_counter() - start:.1f} s")
        with registry.write_session() as session:
            admin = auth.create_first_admin(session, "admin", "Admin", "benchmark password")
            auth.create_user(session, admin, "desk", "Desk", "front_desk", "benchmark password")
        desk = auth.login(registry, "desk", "benchmark password")
        wanted = args.confirms * 2 * args.rounds
        with registry.session() as session:
            ids = list(session.scalars(select(m.Patient.id).where(m.Patient.status == "active")
                                       .order_by(m.Patient.id).limit(wanted)))
            providers = list(session.scalars(select(m.Provider.id).order_by(m.Provider.id)))
        if len(ids) < wanted:
            print("not enough patients; lower --confirms")
            return 1
        # Setup (not timed): put each patient on a panel, as "the patient named their PCP" at check-in.
        from panelmanager.core.empanelment import EmpanelmentError

        for pid in ids:
            for provider in providers:
                try:
                    with registry.write_session() as session:
                        confirm_assignment(session, pid, by="patient", outcome="changed", provider_id=provider,
                                           method="check-in", user="setup")
                    break
                except EmpanelmentError:
                    continue

        def direct(pid: int) -> None:
            with registry.write_session() as session:
                confirm_assignment(session, pid, by="patient", outcome="confirmed", method="check-in", user="desk")

        def audited(pid: int) -> None:
            perform(registry, desk, "confirm", confirm_assignment, pid, patient_ids=[pid], by="patient",
                    outcome="confirmed", method="check-in", user=desk.username)

        # Interleaved (direct, audited, direct, audited...): a busy moment of the machine hits both.
        plain: list[float] = []
        with_audit: list[float] = []
        cpu = {"direct": 0.0, "audited": 0.0}
        queue = iter(ids)
        for _n in range(args.confirms * args.rounds):
            for name, fn, into in (("direct", direct, plain), ("audited", audited, with_audit)):
                pid = next(queue)
                c, t = time.process_time(), time.perf_counter()
                fn(pid)
                into.append(time.perf_counter() - t)
                cpu[name] += time.process_time() - c
        a, b = statistics.median(plain), statistics.median(with_audit)
        n = len(plain)
        print(f"check-in confirm: median {a * 1000:.2f} ms direct, {b * 1000:.2f} ms with audit "
              f"({(b / a - 1) * 100:+.1f}%; mean {statistics.mean(plain) * 1000:.2f} vs "
              f"{statistics.mean(with_audit) * 1000:.2f} ms; n={n} each)  target < 5%: "
              f"{'OK' if b / a - 1 < 0.05 else 'MISSED'}")
        print(f"  CPU per confirm: {cpu['direct'] / n * 1000:.2f} ms direct, {cpu['audited'] / n * 1000:.2f} ms "
              f"with audit ({(cpu['audited'] / cpu['direct'] - 1) * 100:+.1f}%)")

        if not args.skip_gaps:
            times: dict[str, list[float]] = {"direct": [], "audited": []}
            for _round in range(2):
                for name in (("direct", "audited") if _round == 0 else ("audited", "direct")):
                    t = time.perf_counter()
                    if name == "direct":
                        with registry.write_session() as session:
                            refresh_gaps(session, AS_OF)
                    else:
                        perform(registry, admin, "print", refresh_gaps, AS_OF,
                                details={"run": "gaps"})
                    times[name].append(time.perf_counter() - t)
            a, b = min(times["direct"]), min(times["audited"])
            print(f"care-gaps run ({args.patients:,} patients): best {a:.2f} s direct, {b:.2f} s with audit "
                  f"({(b / a - 1) * 100:+.1f}%)")

        with registry.write_session() as session:
            many = list(session.scalars(select(m.Patient.id).limit(5000)))
        t = time.perf_counter()
        with registry.write_session() as session:
            audit.record(session, admin, "letters", patient_ids=many, details={"letters": len(many)})
        print(f"one audit entry naming {len(many):,} patients (a letters run): {(time.perf_counter() - t) * 1000:.1f} ms")
        t = time.perf_counter()
        with registry.session() as session:
            result = audit.verify(session)
        print(f"audit verify: {result.rows:,} entries in {(time.perf_counter() - t) * 1000:.0f} ms ({result.message()})")
        registry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
