"""
Files as a user names them
--------------------------

A page-cache page knows its inode, and an inode knows its dentries: that gives a
path *within its filesystem* (``/tmpfs-cache.bin``). A user knows the path from the
root mount namespace (``/mnt/shm/tmpfs-cache.bin``). The mounts of a superblock are
on ``sb->s_mounts`` (``struct mount.mnt_instance``, since v3.3); the one in the
initial mount namespace (``init_task.nsproxy->mnt_ns``) whose root is an ancestor of
the file's dentry gives the full path, climbing ``mnt_parent``/``mnt_mountpoint`` up
to the namespace's root. A file no mount of that namespace reaches (a private
namespace's tmpfs, a lazily unmounted filesystem) is named by device and its path in
the filesystem instead.

Every walk is bounded; what cannot be read leaves the path within the filesystem.
"""

from dataclasses import dataclass
from typing import List, Optional

from drgn import FaultError, Object, container_of

from memcg_zombies.layout import layout
from memcg_zombies.helpers.lists import list_entries

__all__ = ("FileName", "file_name", "dentry_path")

#: Bound on dentry and mount parent chains (a corrupted chain must not loop).
_MAX_DEPTH = 4096
#: Bound on the mounts of one superblock looked at.
_MAX_MOUNTS = 10000


@dataclass(frozen=True)
class FileName:
    """Where a file is: ``path`` within its filesystem, ``full_path`` from the root
    mount namespace (None when no mount there reaches it), ``device`` (``sb->s_id``)."""

    path: Optional[str]
    full_path: Optional[str]
    device: Optional[str]

    @property
    def label(self) -> Optional[str]:
        """What to print: the full path, else ``device:path-in-filesystem``."""
        if self.full_path is not None:
            return self.full_path
        if self.path is None:
            return None
        return f"{self.device}:{self.path}" if self.device else self.path


def _names_up_to(dentry: Object, stop: int) -> Optional[List[bytes]]:
    """Names from ``dentry`` up to (not including) the dentry at ``stop``, leaf first;
    None if the chain reaches the filesystem's root without meeting ``stop`` (0: go
    to the root)."""
    names: List[bytes] = []
    for _ in range(_MAX_DEPTH):
        addr = dentry.value_()
        if addr == stop:
            return names
        parent = dentry.d_parent.read_()
        if parent.value_() == addr:
            return names if stop == 0 else None
        names.append(dentry.d_name.name.string_())
        dentry = parent
    return None


def _join(names: List[bytes]) -> str:
    return "/" + "/".join(n.decode(errors="backslashreplace") for n in reversed(names))


def dentry_path(dentry: Object) -> Optional[str]:
    """Path of a dentry within its filesystem (``dentry_path_raw()``)."""
    names = _names_up_to(dentry, 0)
    return None if names is None else _join(names)


def _mount_point(mnt: Object) -> Optional[List[bytes]]:
    """Names of where ``mnt`` is mounted, leaf first, up to its namespace's root."""
    names: List[bytes] = []
    for _ in range(_MAX_DEPTH):
        parent = mnt.mnt_parent.read_()
        if parent.value_() == mnt.value_():
            return names
        part = _names_up_to(mnt.mnt_mountpoint.read_(), parent.mnt.mnt_root.value_())
        if part is None:
            return None
        names.extend(part)
        mnt = parent
    return None


def _in_root_namespace(sb: Object, dentry: Object) -> Optional[str]:
    prog = sb.prog_
    root_ns = prog["init_task"].nsproxy.mnt_ns.value_()
    for mnt in list_entries(sb.s_mounts, "struct mount", "mnt_instance",
                            f"mounts of superblock {sb.value_():#x}", _MAX_MOUNTS):
        if mnt.mnt_ns.value_() != root_ns:
            continue
        inside = _names_up_to(dentry, mnt.mnt.mnt_root.value_())
        if inside is None:
            continue  # a bind mount of another part of the filesystem
        where = _mount_point(mnt)
        if where is not None:
            return _join(inside + where)
    return None


def _first_alias(inode: Object) -> Optional[Object]:
    first = inode.i_dentry.first.read_()
    if not first:
        return None
    return container_of(first, "struct dentry", layout(inode.prog_).fs.dentry_alias)


def file_name(inode: Object) -> FileName:
    """How to name ``inode`` (a ``struct inode *``): raises FaultError only when not
    even its path within the filesystem can be read."""
    dentry = _first_alias(inode)
    if dentry is None:
        return FileName(None, None, None)
    path = dentry_path(dentry)
    sb = inode.i_sb.read_()
    device: Optional[str]
    try:
        device = sb.s_id.string_().decode(errors="replace")
    except (FaultError, LookupError, AttributeError):
        device = None
    full: Optional[str]
    try:
        full = _in_root_namespace(sb, dentry)
    except (FaultError, LookupError, AttributeError):
        full = None  # the mount table is not in the dump: the in-fs path stands
    return FileName(path, full, device)

