"""The README's two set-up commands are the ones CI and newcomers actually run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", setup, flags=re.S)]


def test_readme_has_exactly_two_setup_commands_app_then_tests():
    commands = _commands()
    assert len(commands) == 2
    app, tests = commands
    assert app.endswith("panelmanager") and "pip install" in app
    assert "pytest" in tests and "[test]" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert _commands()[1] in ci_lines


def test_readme_points_only_to_files_inside_the_repository():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../" not in text and "shared folder" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):  # links and images
        if "://" not in target:
            assert (ROOT / target).exists(), target
    for name in re.findall(r"`((?:resources|installers|tests|panelmanager)/[\w./-]*|[A-Z]+\.md|LICENSE)`", text):
        assert (ROOT / name).exists(), name
