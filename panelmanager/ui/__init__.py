"""The PySide6 desktop app: a client of panelmanager.core, never the other way round."""
