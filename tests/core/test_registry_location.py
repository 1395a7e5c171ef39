"""A SQLite registry on a network share is refused with a pointer to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from panelmanager.core import registry_location as loc
from panelmanager.core.db import RegistryError, open_registry, resolve_registry_url

PROC_MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
//fileserver/clinic /mnt/clinic cifs rw,vers=3.0 0 0
fs:/export /srv/nfs nfs4 rw 0 0
me@host:/data /home/me/remote fuse.sshfs rw 0 0
/dev/sdb1 /mnt/clinic/local ext4 rw 0 0
/dev/sdc1 /mnt/with\\040space ext4 rw 0 0
"""

MACOS_MOUNT = """\
/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)
//jsmith@fileserver/clinic on /Volumes/clinic (smbfs, nodev, nosuid, mounted by jsmith)
fs:/export on /Volumes/nfs (nfs)
"""


@pytest.mark.parametrize("text", [r"\\fileserver\clinic\registry.sqlite3", "//fileserver/clinic/registry.sqlite3"])
def test_unc_paths_are_refused(text):
    with pytest.raises(RegistryError, match="network share .*PostgreSQL"):
        resolve_registry_url(text)


def test_linux_mounts_find_the_file_system_of_the_longest_mount_point():
    mounts = loc.parse_mounts(PROC_MOUNTS)
    assert loc.mount_type_for(Path("/mnt/clinic/registry.sqlite3"), mounts) == "cifs"
    assert loc.mount_type_for(Path("/mnt/clinic/local/registry.sqlite3"), mounts) == "ext4"
    assert loc.mount_type_for(Path("/mnt/clinical/registry.sqlite3"), mounts) == "ext4"
    assert loc.mount_type_for(Path("/srv/nfs/x.sqlite3"), mounts) == "nfs4"
    assert loc.mount_type_for(Path("/home/me/remote/x.sqlite3"), mounts) == "fuse.sshfs"
    assert loc.mount_type_for(Path("/mnt/with space/x.sqlite3"), mounts) == "ext4"
    assert {"cifs", "nfs4", "fuse.sshfs"} <= loc.NETWORK_FS_TYPES


def test_macos_mount_output_is_understood():
    mounts = loc.parse_macos_mount(MACOS_MOUNT)
    assert loc.mount_type_for(Path("/Volumes/clinic/registry.sqlite3"), mounts) == "smbfs"
    assert loc.mount_type_for(Path("/Volumes/nfs/r.sqlite3"), mounts) == "nfs"
    assert loc.mount_type_for(Path("/Users/me/r.sqlite3"), mounts) == "apfs"


def test_a_registry_on_a_mounted_share_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    share = tmp_path / "share"
    share.mkdir()
    monkeypatch.setattr(loc, "parse_mounts", lambda _text: [("/", "ext4"), (str(share), "cifs")])
    with pytest.raises(RegistryError) as caught:
        open_registry(share / "registry.sqlite3")
    assert "network share (cifs)" in str(caught.value) and "postgresql://" in str(caught.value)
    assert not (share / "registry.sqlite3").exists()


def test_a_local_registry_opens(tmp_path):
    assert loc.network_share_kind(tmp_path / "registry.sqlite3") is None
    open_registry(tmp_path / "registry.sqlite3", create=True).close()
