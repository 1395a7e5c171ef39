"""Panel Manager: empanelment and panel management for small primary-care practices."""

from importlib.metadata import PackageNotFoundError, version

try:  # the one version lives in pyproject.toml; installs and bundles carry its metadata
    __version__ = version("panelmanager")
except PackageNotFoundError:  # a bare checkout on sys.path, never installed
    __version__ = "0+unknown"
