"""How long evaluating every care-gap measure takes (run by hand, not collected by pytest).

    python tests/benchmarks/bench_gaps.py [patients] [--fresh]

Loads the deterministic demo practice (``panelmanager demo``: default 100,000 patients,
seed 1) into a registry in the temporary folder (kept between runs; ``--fresh``
rebuilds it) in a child process, so that this process's peak memory is the
evaluation's own. Then times ``evaluate_measures`` (the target: all measures for
100,000 patients in under 5 seconds and under 1.5 GB peak memory), ``refresh_gaps``
(evaluation plus writing the cache), reading the cache back with ``gaps``, per-provider
``measure_rates`` and ``compute_risk``. The demo practice is synthetic: no real
patient data. Wall-clock time is printed with the CPU time and the load average: on
a busy machine the CPU time is the fairer figure.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.date(2025, 1, 15)
SEED = 1
TARGET_SECONDS = 5.0
TARGET_PEAK_MB = 1536


def registry_file(patients: int) -> Path:
    return Path(tempfile.gettempdir()) / f"panelmanager-bench-gaps-{patients}-{SEED}-{AS_OF:%Y%m%d}.sqlite3"


def generate(path: Path, patients: int) -> None:
    from panelmanager.core.db import open_registry
    from panelmanager.core.demo import load_demo

    registry = open_registry(path)
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


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--generate" in sys.argv:
        generate(Path(args[0]), int(args[1]))
        return
    patients = int(args[0]) if args else 100_000
    path = registry_file(patients)
    if "--fresh" in sys.argv or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--generate", str(path), str(patients)], check=True)

    import pandas as pd

    from panelmanager.core.db import open_registry
    from panelmanager.core.measures import evaluate_measures, gaps, load_measures, measure_rates, refresh_gaps
    from panelmanager.core.risk import compute_risk

    registry = open_registry(path)
    measures, errors = load_measures()
    print(f"registry: {path} ({path.stat().st_size / 2**20:,.0f} MB); {len(measures)} measures; as of {AS_OF}")
    for error in errors:
        print("  measure file error:", error)
    baseline = peak_mb()
    try:
        with registry.session() as session:
            started, cpu = time.perf_counter(), time.process_time()
            result = evaluate_measures(session, AS_OF)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        evaluation_peak = peak_mb()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"evaluate_measures: {elapsed:.2f} s ({cpu:.2f} s CPU; load average {load:.1f} on {os.cpu_count()} CPUs) "
            f"for {result['patient_id'].nunique():,} patients, {len(result):,} patient-measure rows; "
            f"peak memory {evaluation_peak:,.0f} MB (process before: {baseline:,.0f} MB)"
        )
        summary = result.groupby(["measure", "status"]).size().unstack(fill_value=0)
        with pd.option_context("display.width", 160):
            print(summary.to_string())
        memory = "OK" if evaluation_peak < TARGET_PEAK_MB else "OVER"
        wall = "OK" if elapsed < TARGET_SECONDS else "OVER"
        on_cpu = "OK" if cpu < TARGET_SECONDS else "OVER"
        print(f"target < {TARGET_SECONDS:.0f} s and < {TARGET_PEAK_MB} MB: memory {memory}, wall clock {wall}, CPU time {on_cpu}")
        del result

        with registry.session() as session:
            started = time.perf_counter()
            refreshed = refresh_gaps(session, AS_OF)
            print(f"refresh_gaps (evaluate + write cache): {time.perf_counter() - started:.2f} s, {refreshed.rows:,} rows")
        with registry.session() as session:
            started = time.perf_counter()
            frame = gaps(session, AS_OF, status="open")
            print(f"gaps(status=open) from the cache: {time.perf_counter() - started:.2f} s, {len(frame):,} rows")
            started = time.perf_counter()
            rates = measure_rates(session, AS_OF, by="provider")
            print(f"measure_rates(by=provider): {time.perf_counter() - started:.2f} s, {len(rates):,} rows")
        with registry.session() as session:
            started = time.perf_counter()
            tiers = compute_risk(session, AS_OF)
            print(f"compute_risk: {time.perf_counter() - started:.2f} s; tiers {tiers['tier'].value_counts().sort_index().to_dict()}")
        print(f"peak memory over the whole run: {peak_mb():,.0f} MB")
    finally:
        registry.close()


if __name__ == "__main__":
    main()
