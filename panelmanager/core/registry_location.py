"""Refusing a SQLite registry on a network share.

SQLite's locking (and WAL's shared memory) does not work over SMB/CIFS, NFS and similar
file systems: several PCs opening one registry file on a file server corrupt it sooner or
later. Such a location is refused with a message that points to PostgreSQL, the registry
meant for several workstations. Detection: UNC paths (``\\\\server\\share``), mapped network
drives on Windows (GetDriveTypeW), and the file system type of the mount holding the
folder on Linux (/proc/mounts) and macOS (``mount``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PureWindowsPath

NETWORK_FS_TYPES = frozenset({
    "cifs", "smb", "smb2", "smb3", "smbfs", "nfs", "nfs4", "afs", "ncpfs", "ncp", "9p", "fuse.sshfs", "sshfs",
    "davfs", "fuse.davfs", "webdav", "fuse.rclone", "fuse.s3fs", "glusterfs", "fuse.glusterfs", "ceph", "lustre",
    "gpfs", "ocfs2", "gfs2", "afpfs", "nfs3", "coda", "fuse.gvfsd-fuse", "vboxsf", "prl_fs",
})

REFUSAL = (
    "The registry {path} is on a network share ({kind}). SQLite files shared by several "
    "computers get corrupted; keep the SQLite registry on this computer's own disk, or set up "
    "a PostgreSQL server for several workstations (README: 'Several workstations') and open it "
    "with --db postgresql://..."
)


def is_unc_path(text: str) -> bool:
    return text.startswith("\\\\") or text.startswith("//") and not text.startswith("///")


def parse_mounts(text: str) -> list[tuple[str, str]]:
    """``(mount point, fs type)`` from /proc/mounts text (octal escapes such as ``\\040`` decoded)."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].encode().decode("unicode_escape") if "\\" in parts[1] else parts[1]
            mounts.append((point, parts[2].lower()))
    return mounts


def parse_macos_mount(text: str) -> list[tuple[str, str]]:
    """``(mount point, fs type)`` from macOS ``mount`` output: ``//u@srv/share on /Volumes/x (smbfs, ...)``."""
    mounts = []
    for line in text.splitlines():
        if " on " not in line or "(" not in line:
            continue
        _, _, rest = line.partition(" on ")
        point, _, options = rest.rpartition(" (")
        kind = options.split(",")[0].strip(" )").lower()
        mounts.append((point, kind))
    return mounts


def mount_type_for(path: Path, mounts: list[tuple[str, str]]) -> str | None:
    """The fs type of the longest mount point containing ``path``."""
    best: tuple[int, str] | None = None
    text = str(path)
    for point, kind in mounts:
        inside = text == point or text.startswith(point.rstrip("/") + "/") or point == "/"
        if inside and (best is None or len(point) > best[0]):
            best = (len(point), kind)
    return best[1] if best else None


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def _windows_drive_is_remote(path: str) -> bool:
    import ctypes

    drive = PureWindowsPath(path).drive
    if not drive or drive.startswith("\\\\"):
        return bool(drive)
    DRIVE_REMOTE = 4
    return ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == DRIVE_REMOTE  # type: ignore[attr-defined]


def network_share_kind(path: str | os.PathLike[str]) -> str | None:
    """What kind of network share ``path`` is on ("UNC path", "cifs", ...), or None for a local disk."""
    text = os.fspath(path)
    if is_unc_path(text):
        return "UNC path"
    if sys.platform == "win32":
        try:
            return "network drive" if _windows_drive_is_remote(text) else None
        except Exception:
            return None
    where = _existing_ancestor(Path(text).resolve())
    try:
        if sys.platform.startswith("linux"):
            mounts = parse_mounts(Path("/proc/mounts").read_text())
        elif sys.platform == "darwin":
            mounts = parse_macos_mount(subprocess.run(["mount"], capture_output=True, text=True, timeout=5).stdout)
        else:
            return None
    except (OSError, subprocess.SubprocessError):
        return None
    kind = mount_type_for(where, mounts)
    return kind if kind in NETWORK_FS_TYPES else None


def refuse_network_share(database: str | None) -> None:
    """Raise ``RegistryError`` when a SQLite registry file would live on a network share."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    kind = network_share_kind(database)
    if kind:
        from panelmanager.core.db import RegistryError

        raise RegistryError(REFUSAL.format(path=database, kind=kind))
