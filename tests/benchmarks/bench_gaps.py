"""How long evaluating every care-gap measure takes (run by hand, not collected by pytest).

    python tests/benchmarks/bench_gaps.py [patients] [--fresh] [--profile] [--sql] [--baseline DIR [--baseline-db PATH]] [--rounds N] [--db PATH]

Loads the deterministic demo practice (``panelmanager demo``: default 100,000 patients,
seed 1) into a registry in the temporary folder (kept between runs; ``--fresh``
rebuilds it; ``--db`` names another). Each phase then runs in a child process of its own, so that the peak
memory printed is that phase's (ru_maxrss of the child, imports included; the size
before the phase started is printed too):

``evaluate``  ``evaluate_measures`` for every measure and active patient, with the time
              of each measure (target: under 3 s of CPU, under 1.5 GB peak memory);
``refresh``   ``refresh_gaps``: the evaluation plus replacing the cached rows for the
              date and the commit: what every user path pays (target: under 5 s). This
              is the headline figure;
``read``      what the Dashboard shows from the cache when it opens
              (``panel_lists.dashboard_figures``: per-provider and practice rates and
              "computed at"; target under 3 s), ``gaps(status=open)`` and ``compute_risk``.

``--baseline DIR`` runs every phase a second time with the previous implementation's
source tree first on ``sys.path`` (make one with ``git archive <commit> | tar -x -C DIR``)
and prints both figures and their ratio (new / old) from the same run; ``--rounds N``
repeats each phase N times, interleaved ABBA (new then old, then old then new, ...), and
keeps the fastest (peak memory: highest).
``--baseline-db PATH`` gives the previous implementation its own copy of the registry
(``cp`` it before the first run): needed when the new implementation adds a migration,
since an older version refuses a registry written by a newer one (and must be measured
without the new index).

Wall-clock time is printed with the CPU time and the load average: on a busy machine
the CPU time is the fairer figure. ``--profile`` adds the 25 most expensive functions
of the evaluation and of the refresh (cProfile, by CPU time); ``--sql`` splits the
evaluation's CPU time per step into SQL (execute + fetch, and building each frame) and the
rest (pandas), and lists the costliest statements by table and columns. The demo practice is synthetic: no real patient data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2025, 1, 15)
SEED = 1
TARGET_SECONDS = 3.0  # all 13 measures, CPU
TARGET_REFRESH_SECONDS = 5.0  # evaluation + cache write + commit
TARGET_DASHBOARD_SECONDS = 3.0
TARGET_PEAK_MB = 1536
PHASES = ("evaluate", "refresh", "read")


def registry_file(patients: int) -> Path:
    return Path(tempfile.gettempdir()) / f"panelmanager-bench-gaps-{patients}-{SEED}-{AS_OF:%Y%m%d}.sqlite3"


def generate(path: Path, patients: int) -> None:
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo

    registry = open_registry(path, create=True)
    try:
        started = time.perf_counter()
        counts = load_demo(registry, patients=patients, seed=SEED, as_of=AS_OF)
        print(f"demo practice generated in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    finally:
        registry.close()


def peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


class Clock:
    """Wall and CPU time of a block, and the process's peak memory at its end."""

    def __enter__(self) -> Clock:
        self.before_mb = peak_mb()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.peak_mb = peak_mb()

    def result(self, name: str) -> None:
        """One line the parent process collects for the comparison table."""
        print(f"RESULT {name} {self.wall:.3f} {self.cpu:.3f} {self.peak_mb:.0f}", flush=True)

    def line(self, what: str) -> str:
        return (
            f"{what}: {self.wall:.2f} s wall, {self.cpu:.2f} s CPU; peak memory {self.peak_mb:,.0f} MB "
            f"(process before: {self.before_mb:,.0f} MB; {load_average()})"
        )


class StepTimes:
    """A progress callback that notes the wall and CPU time spent in each named step."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, float]] = []
        self._current: tuple[str, float, float] | None = None

    def __call__(self, done: int, total: int, message: str) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._current is not None:
            name, wall, cpu = self._current
            self.steps.append((name, now[0] - wall, now[1] - cpu))
        self._current = None if done >= total else (message, *now)

    def print(self) -> None:
        print(f"  {'step':48s} {'wall s':>7s} {'CPU s':>7s}")
        for name, wall, cpu in self.steps:
            print(f"  {name:48s} {wall:7.2f} {cpu:7.2f}")


class SqlTimes:
    """With ``--sql``: the CPU time of each statement the engine runs, split into SQLite (execute +
    fetch) and building its frame, with its rows; and per step, SQL vs the rest (pandas).

    Wraps the care-gap context's ``read_frame``, through which every read of an evaluation goes.
    Labels name the tables and columns only (no values).
    """

    def __init__(self, steps: StepTimes) -> None:
        import pandas as pd

        from panelmanager.core.measures import context

        self.steps = steps
        self.rows: list[tuple[str, str, float, float, int]] = []
        self._context = context
        self._original = context.read_frame

        def timed(session, stmt, columns):
            started = time.process_time()
            result = session.connection().execute(stmt)
            try:
                fetched = result.cursor.fetchall() if result.cursor is not None else []
            finally:
                result.close()
            fetched_at = time.process_time()
            if fetched:
                frame = pd.DataFrame.from_records(fetched, columns=list(columns))
            else:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            step = steps._current[0] if steps._current else "?"
            tables = sorted(set(re.findall(r"FROM (\w+)", str(stmt))))
            label = f"{'+'.join(tables)} -> {', '.join(columns)}"
            self.rows.append((step, label, fetched_at - started, time.process_time() - fetched_at, len(fetched)))
            return frame

        context.read_frame = timed

    def print(self) -> None:
        self._context.read_frame = self._original
        sql = sum(r[2] for r in self.rows)
        frames = sum(r[3] for r in self.rows)
        print(f"  SQL (execute + fetch) {sql:.2f} s CPU, DataFrame.from_records {frames:.2f} s, "
              f"{sum(r[4] for r in self.rows):,} rows in {len(self.rows)} statements")
        print(f"  {'step':48s} {'CPU s':>6s} {'SQL s':>6s} {'rest s':>6s}")
        for name, _wall, cpu in self.steps.steps:
            in_sql = sum(r[2] + r[3] for r in self.rows if r[0] == name)
            print(f"  {name:48s} {cpu:6.2f} {in_sql:6.2f} {cpu - in_sql:6.2f}")
        print("  the 12 costliest statements (SQL s, frame s, rows):")
        for step, label, q, f, n in sorted(self.rows, key=lambda r: -r[2])[:12]:
            print(f"  {q:6.3f} {f:6.3f} {n:9,d}  {label[:70]}  [{step[:30]}]")


def phase_evaluate(path: Path, profile: bool, sql: bool = False) -> None:
    import pandas as pd

    from panelmanager.core.db import open_registry
    from panelmanager.core.measures import evaluate_measures, load_measures

    registry = open_registry(path, create=True)
    measures, errors = load_measures()
    print(f"registry: {path} ({path.stat().st_size / 2**20:,.0f} MB); {len(measures)} measures; as of {AS_OF}")
    for error in errors:
        print("  measure file error:", error)
    steps = StepTimes()
    sql_times = SqlTimes(steps) if sql else None
    profiler = None
    if profile:
        import cProfile

        # CPU time, not wall time: on a loaded machine waiting is not the code's cost.
        profiler = cProfile.Profile(time.process_time)
    try:
        with registry.session() as session, Clock() as clock:
            if profiler is not None:
                profiler.enable()
            result = evaluate_measures(session, AS_OF, progress=steps)
            if profiler is not None:
                profiler.disable()
        print(clock.line(f"evaluate_measures ({result['patient_id'].nunique():,} patients, {len(result):,} rows)"))
        clock.result("evaluate")
        steps.print()
        if sql_times is not None:
            sql_times.print()
        summary = result.groupby(["measure", "status"]).size().unstack(fill_value=0)
        with pd.option_context("display.width", 160):
            print(summary.to_string())
        verdict = {
            "memory": clock.peak_mb < TARGET_PEAK_MB,
            "wall clock": clock.wall < TARGET_SECONDS,
            "CPU time": clock.cpu < TARGET_SECONDS,
        }
        print(
            f"target < {TARGET_SECONDS:.0f} s and < {TARGET_PEAK_MB} MB: "
            + ", ".join(f"{k} {'OK' if ok else 'OVER'}" for k, ok in verdict.items())
        )
        if profiler is not None:
            import pstats

            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        registry.close()


def phase_refresh(path: Path, profile: bool = False) -> None:
    from panelmanager.core.db import open_registry
    from panelmanager.core.measures import refresh_gaps

    registry = open_registry(path, create=True)
    steps = StepTimes()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    try:
        with Clock() as clock:
            with registry.session() as session:
                if profiler is not None:
                    profiler.enable()
                refreshed = refresh_gaps(session, AS_OF, progress=steps)
            if profiler is not None:
                profiler.disable()
        print(clock.line(f"refresh_gaps (evaluate + replace the cache + commit; {refreshed.rows:,} rows)"))
        clock.result("refresh")
        saving = [s for s in steps.steps if s[0].startswith("Saving")]
        evaluating = sum(s[1] for s in steps.steps if not s[0].startswith("Saving"))
        if saving:
            print(f"  of which evaluating {evaluating:.2f} s, writing the cache {saving[0][1]:.2f} s wall / {saving[0][2]:.2f} s CPU")
            print(f"RESULT cache-write {saving[0][1]:.3f} {saving[0][2]:.3f} 0", flush=True)
        if profiler is not None:
            import pstats

            print("  the whole refresh (evaluation, cache write, commit), by CPU time:")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        registry.close()


def phase_read(path: Path) -> None:
    from panelmanager.core.db import open_registry
    from panelmanager.core.measures import gaps, measure_rates
    from panelmanager.core.risk import compute_risk

    registry = open_registry(path, create=True)
    try:
        with registry.session() as session:
            with Clock() as clock:
                try:
                    from panelmanager.core.panel_lists import dashboard_figures
                except ImportError:  # the previous implementation: measure_rates + practice_rates
                    from panelmanager.core.panel_lists import gaps_computed_at, practice_rates

                    computed = gaps_computed_at(session, AS_OF)
                    practice_rates(measure_rates(session, AS_OF, by="provider"))
                else:
                    computed = dashboard_figures(session, AS_OF).computed_at
            print(clock.line(f"Dashboard figures from the cache (computed at {computed})"))
            clock.result("dashboard")
        with registry.session() as session:
            with Clock() as clock:
                frame = gaps(session, AS_OF, status="open")
            print(clock.line(f"gaps(status=open) from the cache ({len(frame):,} rows)"))
            with Clock() as clock:
                rates = measure_rates(session, AS_OF, by="provider")
            print(clock.line(f"measure_rates(by=provider) ({len(rates):,} rows)"))
        with registry.session() as session:
            with Clock() as clock:
                tiers = compute_risk(session, AS_OF)
            print(clock.line("compute_risk (score + store)"))
            print(f"  tiers {tiers['tier'].value_counts().sort_index().to_dict()}")
    finally:
        registry.close()


def main() -> None:
    values = {_option(o) for o in ("--baseline", "--baseline-db", "--rounds", "--db")}
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a not in values]
    if "--generate" in sys.argv:
        generate(Path(args[0]), int(args[1]))
        return
    if "--phase" in sys.argv:
        phase, path = args[0], Path(args[1])
        if phase == "evaluate":
            phase_evaluate(path, "--profile" in sys.argv, "--sql" in sys.argv)
        elif phase == "refresh":
            phase_refresh(path, "--profile" in sys.argv)
        else:
            phase_read(path)
        return
    patients = int(args[0]) if args else 100_000
    path = Path(_option("--db") or registry_file(patients))
    if "--fresh" in sys.argv or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--generate", str(path), str(patients)], check=True)
    extra = [flag for flag in ("--profile", "--sql") if flag in sys.argv]
    baseline = _option("--baseline")
    rounds = int(_option("--rounds") or 1)
    versions = [("new", None)] + ([("old", baseline)] if baseline else [])
    paths = {"new": path, "old": Path(_option("--baseline-db") or path)}
    figures: dict[tuple[str, str], tuple[float, float, float]] = {}
    every_cpu: dict[tuple[str, str], list[float]] = {}
    for round_ in range(rounds):
        for phase in PHASES:
            # ABBA: the order flips every round, so a load that drifts over the minutes of
            # a run weighs on both implementations alike.
            for version, source in versions if round_ % 2 == 0 else versions[::-1]:
                print(f"--- {phase} ({version}{' implementation' if baseline else ''})", flush=True)
                env = dict(os.environ)
                if source:
                    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(source).resolve()), env.get("PYTHONPATH")) if p)
                done = subprocess.run(
                    [sys.executable, __file__, "--phase", phase, str(paths[version]), *extra],
                    check=True, env=env, capture_output=True, text=True,
                )
                for line in done.stdout.splitlines():
                    if line.startswith("RESULT "):
                        _tag, name, wall, cpu, peak = line.split()
                        old = figures.get((version, name))
                        new = (float(wall), float(cpu), float(peak))
                        every_cpu.setdefault((version, name), []).append(float(cpu))
                        figures[(version, name)] = new if old is None else (
                            min(old[0], new[0]), min(old[1], new[1]), max(old[2], new[2]))
                    else:
                        print(line)
    print(f"\n{patients:,} patients, fastest of {rounds} round(s); {load_average()}")
    header = f"{'step':<12} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}"
    if baseline:
        header += f" | {'old wall':>8} {'old CPU':>8} {'old MB':>7} | {'CPU ratio':>9}"
    print(header)
    targets = {"evaluate": TARGET_SECONDS, "refresh": TARGET_REFRESH_SECONDS, "dashboard": TARGET_DASHBOARD_SECONDS}
    for name in ("evaluate", "cache-write", "refresh", "dashboard"):
        if ("new", name) not in figures:
            continue
        wall, cpu, peak = figures[("new", name)]
        row = f"{name:<12} {wall:7.2f} {cpu:7.2f} {peak:8.0f}"
        if baseline and ("old", name) in figures:
            o_wall, o_cpu, o_peak = figures[("old", name)]
            row += f" | {o_wall:8.2f} {o_cpu:8.2f} {o_peak:7.0f} | {cpu / o_cpu if o_cpu else float('nan'):8.2f}x"
        if name in targets:
            row += f"  target < {targets[name]:.0f} s CPU: {'OK' if cpu < targets[name] else 'OVER'}"
        print(row)
    if rounds > 1:
        print("CPU s of every round (ABBA order; a median is steadier than the fastest on a busy machine):")
        for name in ("evaluate", "cache-write", "refresh", "dashboard"):
            for version, _source in versions:
                if (version, name) in every_cpu:
                    values = every_cpu[(version, name)]
                    median = sorted(values)[len(values) // 2]
                    print(f"  {name:<12} {version}: " + " ".join(f"{v:.2f}" for v in values) + f"  (median {median:.2f})")


def _option(name: str) -> str | None:
    if name in sys.argv:
        index = sys.argv.index(name)
        if index + 1 < len(sys.argv):
            return sys.argv[index + 1]
    return None

if __name__ == "__main__":
    main()
