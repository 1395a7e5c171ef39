"""Opening an up-to-date registry imports no Alembic: the migration files' heads are read as text."""

from __future__ import annotations

import subprocess
import sys

from panelmanager.core import db


def test_declared_heads_match_alembic():
    assert db._declared_heads() == db.schema_heads()


def test_opening_an_up_to_date_registry_imports_no_alembic(tmp_path):
    path = tmp_path / "registry.sqlite3"
    db.open_registry(path, create=True).close()
    code = (
        "import sys\n"
        "from panelmanager.core.db import open_registry\n"
        f"open_registry({str(path)!r}).close()\n"
        "print(sorted(m for m in ('alembic', 'reportlab') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
