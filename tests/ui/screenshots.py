"""Open every screen on a demo registry and save a PNG of each into resources/screenshots/.

    python tests/ui/screenshots.py [--patients 3000] [--scale 1.0] [--out resources/screenshots]

Runs offscreen (QT_QPA_PLATFORM=offscreen) or on a real X server (Xvfb) when DISPLAY is set.
Not collected by pytest (the file name does not start with test_).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", default="1", help="QT_SCALE_FACTOR, e.g. 1.5 to check 150%% scaling")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    parser.add_argument("--db", help="use this registry instead of a fresh demo")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = str(args.scale)

    from panelmanager.core.db import open_registry
    from panelmanager.ui.app import create_application
    from panelmanager.ui.jobs import JobRunner
    from panelmanager.ui.main_window import SCREENS, MainWindow

    app = create_application()
    JobRunner.synchronous = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            registry = open_registry(args.db, create=True)
        else:
            from panelmanager.core.demo import load_demo

            registry = open_registry(Path(tmp) / "demo.sqlite3", create=True)
            load_demo(registry, patients=args.patients, seed=args.seed, as_of=dt.date.today())
        window = MainWindow(registry=registry)
        window.resize(1366, 860)
        window.show()
        app.processEvents()
        args.out.mkdir(parents=True, exist_ok=True)
        suffix = "" if str(args.scale) in ("1", "1.0") else f"@{args.scale}x"
        for spec in SCREENS:
            screen = window.show_screen(spec.key)
            prepare = getattr(screen, "prepare_screenshot", None)
            if prepare:
                prepare()
            for _ in range(5):
                app.processEvents()
            target = args.out / f"{spec.key}{suffix}.png"
            window.grab().save(str(target))
            print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
        window.close()
        registry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
