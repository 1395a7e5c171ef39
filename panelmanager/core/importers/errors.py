"""The one error importers raise for a file they cannot understand."""


class ImportFileError(Exception):
    """A whole file cannot be imported. The message names the file, what is wrong, what
    was found, and the option (``--map FIELD=COLUMN``, ``--profile NAME``) that fixes it."""
