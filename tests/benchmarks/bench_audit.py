"""The audit trail's cost (issue 14; target: under 5%) on check-in confirm and on a care-gaps run.

1. ``confirm``: the check-in confirm (``confirm_assignment(by="patient", method="check-in")``) in its
   own write transaction, as the Check-in screen runs it (``run_write``), with no one logged in (no
   audit entry) vs logged in as the front desk (the service's role check + its hash-chained audit
   row in the same transaction, ``core.actions.audited_service``). Rounds alternate them so machine load
   hits each alike; medians per confirm. ``--compare-sa`` adds a third, interleaved variant: the
   append run through SQLAlchemy statements, as it was before it used the DB-API cursor.
2. ``gaps``: ``refresh_gaps`` over the demo practice, directly vs through ``perform`` (one audit row
   for the run; the rows it writes do not grow with the registry).
3. ``bulk ids``: appending one entry that names 5,000 patients (a letters run).
4. ``--desk N``: what the front desk waits for at check-in, in the desktop app (offscreen): select a
   scheduled patient on the Check-in screen (the confirm panel fills: name, PCP, visit) and press
   Enter (confirmed; the schedule refreshes), N patients, alternately with no one logged in and
   logged in as the front desk, where the opening is a record view with its own audit entry and the
   confirm carries its entry. The care gaps the panel looks up in the background are awaited between
   patients, untimed.

    python tests/benchmarks/bench_audit.py [--patients 20000] [--confirms 300] [--rounds 3] [--skip-gaps]
        [--desk 200] [--postgresql]
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
    parser.add_argument("--compare-sa", action="store_true",
                        help="also time the append through SQLAlchemy statements (the code before)")
    parser.add_argument("--split", action="store_true",
                        help="also time the logged-in confirm with its audit row left out (the role checks alone), "
                        "interleaved, and print the audit row's own share")
    parser.add_argument("--desk", type=int, default=0, metavar="N",
                        help="also time N check-ins at the desk in the desktop app (select + Enter), half logged in")
    parser.add_argument("--postgresql", action="store_true",
                        help="run on a throwaway PostgreSQL cluster (tests/pg_cluster.py: fsync off, so commits are "
                        "cheap and the audit's statements weigh more than on a real server)")
    args = parser.parse_args()

    cluster = None
    if args.postgresql:
        from pg_cluster import find_server_binaries, start_cluster

        bindir = find_server_binaries()
        if bindir is None:
            print("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
            return 1
        cluster = start_cluster(bindir)
    try:
        return _run(args, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def _run(args, cluster) -> int:
    from sqlalchemy import select

    from panelmanager.core import audit, auth
    from panelmanager.core import models as m
    from panelmanager.core.actions import perform
    from panelmanager.core.concurrency import run_write
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo
    from panelmanager.core.empanelment import confirm_assignment
    from panelmanager.core.measures.gaps import refresh_gaps
    from panelmanager.core.permissions import set_logged_in

    with tempfile.TemporaryDirectory() as folder:
        target = cluster.url(cluster.create_database(template=None)) if cluster else Path(folder) / "bench.sqlite3"
        registry = open_registry(target, create=True)
        print(f"backend: {registry.engine.dialect.name}")
        start = time.perf_counter()
        load_demo(registry, patients=args.patients, seed=1, as_of=AS_OF)
        print(f"demo practice of {args.patients:,} patients loaded in {time.perf_counter() - start:.1f} s "
              f"(code: {Path(audit.__file__).parents[2]})")
        with registry.write_session() as session:
            admin = auth.create_first_admin(session, "admin", "Admin", "benchmark password")
            auth.create_user(session, admin, "desk", "Desk", "front_desk", "benchmark password")
        desk = auth.login(registry, "desk", "benchmark password")
        wanted = args.confirms * (2 + args.compare_sa + args.split) * args.rounds + 150
        with registry.session() as session:
            ids = list(session.scalars(select(m.Patient.id).where(m.Patient.status == "active")
                                       .order_by(m.Patient.id).limit(wanted)))
            providers = list(session.scalars(select(m.Provider.id).order_by(m.Provider.id)))
        if len(ids) < wanted:
            print("not enough patients; lower --confirms")
            return 1
        _put_on_panels(registry, ids, providers)  # setup, not timed

        # What the Check-in screen runs on Enter (ui/widgets/confirm_panel): the core service in one
        # write transaction (run_write). With no one logged in it writes no audit entry; logged in
        # (set_logged_in, as the desktop app's login does) the service checks the role and appends
        # its entry in the same transaction (core.actions.audited_service).
        def direct(pid: int) -> None:
            run_write(registry, confirm_assignment, pid, by="patient", outcome="confirmed", method="check-in",
                      user="desk")

        def audited(pid: int) -> None:
            set_logged_in(desk)
            try:
                run_write(registry, confirm_assignment, pid, by="patient", outcome="confirmed", method="check-in",
                          user=desk.username)
            finally:
                set_logged_in(None)

        def audited_sa(pid: int) -> None:
            # The append as it was: each statement through SQLAlchemy (audit._record_sa).
            styles = audit._STYLES
            audit._STYLES = {}
            try:
                audited(pid)
            finally:
                audit._STYLES = styles

        # Pages each commit writes (SQLite WAL frames of 4 KiB): what the audit row adds to a confirm's
        # I/O, independent of machine load (the median times below are not). Each page is named by
        # the B-tree it belongs to (the dbstat table, when the SQLite build has it).
        if not cluster:
            for name, fn in (("direct", direct), ("audited", audited)):
                print(f"  pages written per commit ({name}): {_pages_per_commit(registry, fn, ids[-150:])}")
        def permission_only(pid: int) -> None:
            # Logged in, with the audit row left out: the role checks alone.
            real = audit.record
            audit.record = lambda *_a, **_k: 0  # type: ignore[assignment]
            try:
                audited(pid)
            finally:
                audit.record = real

        variants = [("direct", direct), ("audited", audited)]
        if args.compare_sa:
            variants.append(("audited via SQLAlchemy", audited_sa))
        if args.split:
            variants.append(("permission check, no audit row", permission_only))
        # Interleaved (direct, audited, direct, audited...): a busy moment of the machine hits each.
        times: dict[str, list[float]] = {name: [] for name, _fn in variants}
        cpu = dict.fromkeys(times, 0.0)
        queue = iter(ids[:-150])
        for n in range(args.confirms * args.rounds):
            for name, fn in (variants if n % 2 else variants[::-1]):  # ABBA: neither always goes first
                pid = next(queue)
                c, t = time.process_time(), time.perf_counter()
                fn(pid)
                times[name].append(time.perf_counter() - t)
                cpu[name] += time.process_time() - c
        a = statistics.median(times["direct"])
        n = len(times["direct"])
        print(f"check-in confirm: median {a * 1000:.2f} ms direct (mean {statistics.mean(times['direct']) * 1000:.2f}, "
              f"CPU {cpu['direct'] / n * 1000:.2f} ms; n={n} each)")
        for name, _fn in variants[1:]:
            b = statistics.median(times[name])
            print(f"  {name}: median {b * 1000:.2f} ms ({(b / a - 1) * 100:+.1f}%; mean "
                  f"{statistics.mean(times[name]) * 1000:.2f} ms; CPU {cpu[name] / n * 1000:.2f} ms, "
                  f"{(cpu[name] / cpu['direct'] - 1) * 100:+.1f}%)"
                  + (f"  target < 5%: {'OK' if b / a - 1 < 0.05 else 'MISSED'}" if name.startswith("audited") else ""))
        if args.split:
            p = statistics.median(times["permission check, no audit row"])
            print(f"  the audit row alone (audited vs permission check without it): median "
                  f"{(statistics.median(times['audited']) / p - 1) * 100:+.1f}%, CPU "
                  f"{(cpu['audited'] / cpu['permission check, no audit row'] - 1) * 100:+.1f}%")

        # record() itself inside an audited confirm, per call (wall, no I/O: the commit comes after it): in a
        # confirm its caches are cold, so it costs about three times what a loop of appends shows.
        real, spent = audit.record, []

        def timed_record(*a, **k):
            t = time.perf_counter()
            seq = real(*a, **k)
            spent.append(time.perf_counter() - t)
            return seq

        audit.record = timed_record  # type: ignore[assignment]
        try:
            for pid in ids[-150:]:
                audited(pid)
        finally:
            audit.record = real
        print(f"  audit.record() inside an audited confirm: median {statistics.median(spent) * 1e6:.0f} us "
              f"(n={len(spent)})")

        if args.desk:
            _desk(registry, desk, providers, args.desk)

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


def _put_on_panels(registry, ids, providers) -> None:
    """Setup (not timed): each patient on a panel, as "the patient named their PCP" at check-in, in one
    transaction (the first provider whose panel takes them)."""
    from panelmanager.core.empanelment import EmpanelmentError, confirm_assignment

    with registry.write_session() as session:
        for pid in ids:
            for provider in providers:
                try:
                    with session.begin_nested():
                        confirm_assignment(session, pid, by="patient", outcome="changed", provider_id=provider,
                                           method="check-in", user="setup")
                    break
                except EmpanelmentError:
                    continue


def _desk(registry, desk, providers, wanted: int) -> None:
    """Check-ins at the desk in the desktop app: select the patient on the schedule, press Enter."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from sqlalchemy import func, select

    from panelmanager.core import models as m
    from panelmanager.core.permissions import set_logged_in
    from panelmanager.ui.jobs import JobRunner
    from panelmanager.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with registry.session() as session:  # the busiest clinic days after the as-of date
        day_of = func.date(m.Visit.start)
        days = [dt.date.fromisoformat(str(d)) for d, _n in session.execute(
            select(day_of, func.count()).where(m.Visit.start >= dt.datetime.combine(AS_OF, dt.time()))
            .group_by(day_of).order_by(func.count().desc()).limit(40))]
    window = MainWindow(registry=registry)
    window.resize(1280, 800)
    window.show()
    screen = window.show_screen("checkin")

    def settle() -> None:  # the background gap look-ups and posted events (untimed)
        deadline = time.perf_counter() + 60
        while (screen._pending_ids or JobRunner.running()) and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.002)
        app.processEvents()

    times: dict[str, list[float]] = {"not logged in": [], "logged in": []}
    done = 0
    for day in sorted(days):
        if done >= wanted:
            break
        screen.set_day(day)
        settle()
        rows = [r for r in screen.schedule_model.rows()][: wanted - done]
        _put_on_panels(registry, sorted({int(r["patient_id"]) for r in rows}), providers)  # so Enter confirms
        window.ctx.notify_changed()
        settle()
        for row in rows:
            name = "logged in" if done % 4 in (1, 2) else "not logged in"  # ABBA
            set_logged_in(desk if name == "logged in" else None)
            index = screen.schedule_model.row_of_visit(int(row["visit_id"]))
            if index < 0:
                continue
            t = time.perf_counter()
            screen.schedule_view.setFocus()
            screen.schedule_view.selectRow(index)
            QTest.keyClick(screen.schedule_view, Qt.Key.Key_Return)
            app.processEvents()
            times[name].append(time.perf_counter() - t)
            set_logged_in(None)
            if "confirmed" not in screen.panel.message_label.text():
                raise SystemExit(f"the check-in did not confirm: {screen.panel.message_label.text()!r}")
            done += 1
            settle()
    window.close()
    a, b = statistics.median(times["not logged in"]), statistics.median(times["logged in"])
    print(f"check-in at the desk (select + Enter, desktop app): median {a * 1000:.2f} ms not logged in, "
          f"{b * 1000:.2f} ms logged in ({(b / a - 1) * 100:+.1f}%; n={len(times['logged in'])} each)"
          f"  target < 5%: {'OK' if b / a - 1 < 0.05 else 'MISSED'}")


def _pages_per_commit(registry, fn, sample) -> str:
    """WAL frames per commit of ``fn`` over ``sample`` (fewer than the 1,000-frame auto-checkpoint),
    and which tables and indexes they belong to."""
    import collections
    import struct

    database = str(registry.engine.url.database)
    wal = Path(database + "-wal")
    with registry.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for pid in sample:
        fn(pid)
    if not wal.exists():
        return "no WAL"
    data = wal.read_bytes()
    pages = [struct.unpack(">I", data[at:at + 4])[0] for at in range(32, len(data) - 4095, 4096 + 24)]
    owner: dict[int, str] = {}
    try:
        with registry.engine.connect() as conn:  # the registry's own connection (SQLCipher: its key)
            owner = {int(p): str(n) for n, p in conn.exec_driver_sql("SELECT name, pageno FROM dbstat")}
    except Exception:  # noqa: BLE001 - a SQLite build without dbstat: the total alone
        pass
    by = collections.Counter(owner.get(p, "other") for p in pages)
    parts = ", ".join(f"{k} {v / len(sample):.2f}" for k, v in by.most_common()) if owner else ""
    return f"{len(pages) / len(sample):.2f}" + (f" ({parts})" if parts else "")


if __name__ == "__main__":
    sys.exit(main())
