"""How long loading the demo practice takes, and its peak memory (run by hand, not collected by pytest).

    python tests/benchmarks/bench_demo.py [--patients 100000 | --sizes 10000,30000,100000] [--seed 1]
                                          [--baseline DIR] [--rounds N] [--dir DIR] [--profile]

Each load runs ``load_demo`` (what ``panelmanager demo`` and the desktop's "load a demo
practice" run) into a fresh SQLite registry in a child process of its own; the launcher
prints the child's wall-clock seconds, its CPU seconds (user + system, from
``RUSAGE_CHILDREN``) and its peak resident memory (``ru_maxrss``, imports included), and
whether the targets of issue 16 hold (100,000 patients under 60 s and under 800 MB).

``--baseline DIR`` runs each load a second time with the previous implementation's source
tree first on ``sys.path`` (``git archive <commit> | tar -x -C DIR``), alternating new and
old in each of ``--rounds`` rounds, and prints the ratios. The registries go to ``--dir``
(default: a temporary folder) and are deleted after each load. ``--profile`` runs the new
load once under cProfile and prints the 30 most expensive functions (by cumulative time;
take timings from a run without it). The demo practice is synthetic: no patient data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2025-01-15"
TARGET_SECONDS = 60.0
TARGET_PEAK_MB = 800.0
ROOT = Path(__file__).resolve().parents[2]


def _child(args: argparse.Namespace) -> None:
    import cProfile
    import datetime as dt
    import pstats

    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo

    registry = open_registry(args.db, create=True)
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    counts = load_demo(registry, patients=args.patients, seed=args.seed, as_of=dt.date.fromisoformat(AS_OF))
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    registry.close()
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    print(json.dumps({"load_seconds": seconds, "rows": sum(counts.values())}))


def _launch(patients: int, seed: int, folder: Path, source: Path, profile: bool = False) -> dict:
    db = folder / f"bench-demo-{patients}-{os.getpid()}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(source), PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--db", str(db),
               "--patients", str(patients), "--seed", str(seed)] + (["--profile"] if profile else [])
    # A launcher per load, so that RUSAGE_CHILDREN holds exactly that load's CPU and peak memory.
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "out = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}\n"
        "print(json.dumps(dict(out, rc=r.returncode, wall=wall, cpu=u.ru_utime + u.ru_stime, peak_mb=u.ru_maxrss / 1024)))\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", probe, *command], env=env, stdout=subprocess.PIPE, text=True,
                              check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return result


def _show(label: str, result: dict) -> str:
    if result.get("rc"):
        return f"{label:<8} FAILED (exit {result['rc']})"
    return (f"{label:<8} wall {result['wall']:7.1f} s  load {result['load_seconds']:7.1f} s  CPU {result['cpu']:7.1f} s  "
            f"peak {result['peak_mb']:7.0f} MB  rows {result['rows']:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sizes", default=None, help="comma-separated sizes (overrides --patients)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", type=Path, default=None, help="the previous implementation's source tree")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the registries go (default: a temp folder)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.patients]
    with tempfile.TemporaryDirectory(prefix="bench-demo-", dir=args.dir) as tmp:
        folder = Path(tmp)
        for patients in sizes:
            print(f"== {patients:,} patients, seed {args.seed}, as of {AS_OF}; load average {os.getloadavg()[0]:.2f}",
                  flush=True)
            if args.profile:
                print(_show("profile", _launch(patients, args.seed, folder, ROOT, profile=True)), flush=True)
                continue
            best: dict[str, dict] = {}
            for round_ in range(args.rounds):
                runs = [("new", ROOT)] + ([("old", args.baseline.resolve())] if args.baseline else [])
                if round_ % 2:
                    runs.reverse()  # alternate who goes first
                for label, source in runs:
                    result = _launch(patients, args.seed, folder, source)
                    print(_show(label, result) + f"  (round {round_ + 1}, load avg {os.getloadavg()[0]:.2f})",
                          flush=True)
                    kept = best.get(label)
                    if kept is None or result.get("cpu", 1e9) < kept.get("cpu", 1e9):
                        peak = max(result.get("peak_mb", 0), kept.get("peak_mb", 0) if kept else 0)
                        best[label] = dict(result, peak_mb=peak)
            new = best["new"]
            if "old" in best and not new.get("rc") and not best["old"].get("rc"):
                old = best["old"]
                print(f"ratio new/old: wall {new['wall'] / old['wall']:.2f}  CPU {new['cpu'] / old['cpu']:.2f}  "
                      f"peak {new['peak_mb'] / old['peak_mb']:.2f}")
            if patients == 100_000 and not new.get("rc"):
                print(f"target (100,000 patients): under {TARGET_SECONDS:.0f} s: "
                      f"{'yes' if new['wall'] < TARGET_SECONDS else 'NO'} (CPU {new['cpu']:.0f} s); "
                      f"under {TARGET_PEAK_MB:.0f} MB: {'yes' if new['peak_mb'] < TARGET_PEAK_MB else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
