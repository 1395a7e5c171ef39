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


# --------------------------------------------------------------------------- staging
# What a screen shows in its screenshot is staged here, not in the production screen: a
# screen never accepts a review or runs SQL to look good in a picture (issue 11).


def assign_demo_panels_once(ctx) -> None:
    """A demo registry nobody has assigned yet gets its first review accepted, so the schedule
    shows PCPs (a practice's own registry is never touched: no demo marker, nothing done)."""
    from sqlalchemy import select

    from panelmanager.core import models as m
    from panelmanager.core.empanelment import accept_review_items, build_review

    with ctx.registry.session() as session:
        is_demo = session.scalar(select(m.Setting.key).where(m.Setting.key == "demo_practice")) is not None
        if not is_demo or session.scalar(select(m.Assignment.id).limit(1)) is not None:
            return
        review = build_review(session, as_of=ctx.as_of, user=ctx.user)
        accept_review_items(session, review.review_id, user=ctx.user)


def stage_checkin(screen) -> None:
    """Check-in: a day with a full schedule, one patient just confirmed and the next one selected."""
    from panelmanager.core.schedule import next_schedule_day
    from panelmanager.ui.context import ASSIGNMENTS

    with screen.ctx.registry.session() as session:
        day = next_schedule_day(session, screen.ctx.as_of)
    assign_demo_panels_once(screen.ctx)
    screen.ctx.notify_changed(ASSIGNMENTS)
    if day is not None:
        screen.set_day(day)
    screen.load_schedule(providers=True)
    screen._size_columns()
    rows = screen.schedule_model.rows()
    unconfirmed = [i for i, r in enumerate(rows) if r["status"] == "unconfirmed"]
    if unconfirmed:
        screen.schedule_view.selectRow(unconfirmed[0])
        screen.panel.confirm()
        rows = screen.schedule_model.rows()
        later = [i for i, r in enumerate(rows) if r["status"] != "confirmed" and r["status"] != "unassigned"]
        pick = next((i for i in later if i > unconfirmed[0]), later[0] if later else 0)
        screen.schedule_view.selectRow(pick)
        screen.schedule_view.setFocus()


def stage_panels(screen) -> None:
    """Panels: a review with its rows. With no review yet, a manager part-way through the first one
    (built, all but the first screenful accepted); when the review was already decided (another
    screen's staging empanelled the demo), that review's proposals with their decisions."""
    from panelmanager.core.empanelment import accept_review_items

    screen.tabs.setCurrentWidget(screen.review_tab)
    screen.refresh()
    if not screen._reviews:
        screen.run_review()
        model = screen.review_model
        pending = [i for i in (model.id_at(r) for r in range(model.rowCount())) if i is not None]
        if len(pending) > 60:
            screen._decide(accept_review_items, pending[40:], "Accepting proposals")
    if screen.review_model.rowCount() == 0:
        screen.decision_filter.setCurrentIndex(screen.decision_filter.findData(None))
    if screen.review_model.rowCount():
        screen.review_table.selectRow(1 if screen.review_model.rowCount() > 1 else 0)


STAGING = {"checkin": stage_checkin, "panels": stage_panels}


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
            stage = STAGING.get(spec.key)
            if stage is not None:
                stage(screen)
            else:
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
