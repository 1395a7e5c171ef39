"""The core is a headless library: it must load with Qt unavailable (Anki's rule)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_imports_with_pyside6_unavailable():
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["PySide6"] = None  # any 'import PySide6...' now raises ImportError
        import panelmanager.core
        loaded = []
        for info in pkgutil.walk_packages(panelmanager.core.__path__, "panelmanager.core."):
            if ".migrations.versions" in info.name or info.name.endswith("migrations.env"):
                continue
            importlib.import_module(info.name)
            loaded.append(info.name)
        import panelmanager.cli  # the CLI too, until it launches the GUI
        assert not any(name.startswith("PySide6.") for name in sys.modules), "a core module imported Qt"
        print(len(loaded))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 8  # db, models, jobs, importers... all really loaded
