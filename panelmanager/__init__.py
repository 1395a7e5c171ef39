"""Panel Manager: empanelment and panel management for small primary-care practices."""

__version__ = "0.1.0"
