"""Panel Manager: empanelment and panel management for small primary-care practices."""


def __getattr__(name: str) -> str:
    # The one version lives in pyproject.toml; installs and bundles carry it in their
    # metadata. Read on first use: importlib.metadata costs start-up time `--help` needs not pay.
    if name != "__version__":
        raise AttributeError(f"module 'panelmanager' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("panelmanager")
    except PackageNotFoundError:  # a bare checkout on sys.path, never installed
        value = "0+unknown"
    globals()["__version__"] = value
    return value
