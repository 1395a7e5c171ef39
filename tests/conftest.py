"""Shared fixtures: a fresh registry per test, and the shared Synthea data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if not os.environ.get("QT_QPA_PLATFORM"):
    # No display on CI machines: an unset or empty platform would abort Qt at start.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SYNTHEA_CSV_SMALL = SHARED_DATA / "synthea-csv-small"
SYNTHEA_FHIR_SMALL = SHARED_DATA / "synthea-fhir-small"


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


@pytest.fixture
def fresh_registry(registry_path: Path):
    """An empty, migrated registry in a temporary folder."""
    from panelmanager.core.db import open_registry

    registry = open_registry(registry_path)
    yield registry
    registry.close()


@pytest.fixture
def synthea_small() -> Path:
    if not (SYNTHEA_CSV_SMALL / "patients.csv").exists():
        pytest.skip(f"shared Synthea data not found at {SYNTHEA_CSV_SMALL}")
    return SYNTHEA_CSV_SMALL


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's real registry or settings from a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PANELMANAGER_DB", str(home / "default-registry.sqlite3"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
