"""The Outreach screen writes every document through ``outreach_run.run_outreach`` and records a printed
mailing through ``outreach_run.record_outreach``, the services ``panelmanager letters`` calls (issue 11)."""

from __future__ import annotations

import pytest
from outreach_practice import COLON, build_outreach_practice
from PySide6.QtCore import Qt
from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core import outreach_run


@pytest.fixture
def screen(qtbot, fresh_registry):
    from panelmanager.ui.main_window import MainWindow

    with fresh_registry.session() as session:
        build_outreach_practice(session)  # before the window: it reads the practice settings once
    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win.show_screen("outreach")


@pytest.fixture
def services(monkeypatch) -> list[tuple[str, dict]]:
    """Each call of run_outreach / record_outreach, passed on to the real service."""
    seen: list[tuple[str, dict]] = []
    for name in ("run_outreach", "record_outreach"):
        real = getattr(outreach_run, name)

        def spy(session, *args, _real=real, _name=name, **kwargs):
            seen.append((_name, kwargs))
            return _real(session, *args, **kwargs)

        monkeypatch.setattr(outreach_run, name, spy)
    return seen


def _logged(registry) -> list[tuple]:
    o = m.OutreachLog
    with registry.session() as session:
        return list(session.execute(select(o.method, o.document, o.batch).order_by(o.id)).all())


def test_letters_labels_and_exports_go_through_run_outreach(qtbot, screen, fresh_registry, services, tmp_path,
                                                            monkeypatch):
    screen.set_measures([COLON])
    qtbot.mouseClick(screen.build_button, Qt.MouseButton.LeftButton)
    assert screen.patient_count() == 4

    qtbot.mouseClick(screen.letters_button, Qt.MouseButton.LeftButton)
    name, kwargs = services[-1]
    assert name == "run_outreach" and kwargs["log"] is False and kwargs["letters"] is not None
    assert kwargs["outreach"] is screen.outreach  # the list on screen, not one built again
    assert _logged(fresh_registry) == []  # a preview is not outreach
    screen.preview.save_to(tmp_path / "letters.pdf")
    screen.preview.close()
    assert services[-1][0] == "record_outreach" and services[-1][1]["user"] == "Front Desk"
    logged = _logged(fresh_registry)
    assert {(method, document) for method, document, _batch in logged} == {("letter", "letters")}
    assert screen.last_batch == logged[0][2] and f"(batch {screen.last_batch})" in screen.result_label.text()

    qtbot.mouseClick(screen.labels_button, Qt.MouseButton.LeftButton)
    assert services[-1][0] == "run_outreach" and services[-1][1]["labels"] is not None
    screen.preview.close()

    monkeypatch.setattr(type(screen), "save_file_name",
                        staticmethod(lambda parent, caption, suggested, filters: (str(tmp_path / "portal.csv"), "")))
    screen.portal_action.trigger()
    name, kwargs = services[-2]  # the export is logged by the run itself, through record_outreach
    assert name == "run_outreach" and kwargs["log"] is True and kwargs["portal"] == str(tmp_path / "portal.csv")
    assert ("portal", "portal-export") in {(method, document) for method, document, _batch in _logged(fresh_registry)}
    assert [n for n, _ in services] == ["run_outreach", "record_outreach", "run_outreach", "run_outreach",
                                        "record_outreach"]
