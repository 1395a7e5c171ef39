"""``python -m panelmanager``: the same entry point as the ``panelmanager`` command."""

from panelmanager.cli import main

raise SystemExit(main())
