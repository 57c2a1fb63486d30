"""
What a vmcore file is
---------------------

Facts read from the files a user names, before (or besides) drgn: whether a path is a
regular file one can open without waiting (a FIFO would block forever), whether it is
a compressed container instead of a vmcore, whether an ELF or kdump-compressed core is
shorter than its own headers say, which release a vmlinux was built as, and which
vmcore file a drgn session has open.
"""

import errno
import os
import stat
import struct
from typing import Optional, Tuple

__all__ = ("InputError", "check_readable", "core_truncation", "truncated_text",
           "vmlinux_release", "is_vmcore", "open_vmcore_file")


class InputError(Exception):
    """A file that cannot be used as given; the message is one line."""


# Compressed containers customers upload vmcores in: magic -> (name, how to unpack).
_CONTAINERS = ((b"\x1f\x8b", "gzip", "gunzip -k"), (b"\xfd7zXZ\x00", "xz", "unxz -k"),
               (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"), (b"BZh", "bzip2", "bunzip2 -k"))


def check_readable(path: str, what: str) -> None:
    """A regular, readable file that is not a compressed container. Checked before
    anything opens it: opening a FIFO would wait for a writer forever."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"cannot open {what} {path}: {e.strerror}")
    if not stat.S_ISREG(st.st_mode):
        kind = os.strerror(errno.EISDIR) if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"cannot open {what} {path}: {kind}")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise InputError(f"cannot open {what} {path}: {e.strerror}")
    for head, name, unpack in _CONTAINERS:
        if magic.startswith(head):
            raise InputError(f"{what} {path} is {name}-compressed: unpack it "
                             f"first ({unpack} {path})")


def core_truncation(path: str) -> Optional[Tuple[int, int]]:
    """
    ``(size, expected)`` when an ELF or kdump-compressed core file is shorter
    than its own headers say (a copy or a dump that was cut short), else None.
    ELF: the end of the last PT_LOAD/PT_NOTE. kdump: the end of the data of the
    last page descriptor (one per bit set in the second bitmap).
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
            if head[:4] == b"\x7fELF" and head[4:5] == b"\x02" and len(head) >= 64:
                (phoff,) = struct.unpack_from("<Q", head, 0x20)
                phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
                need = phoff + phentsize * phnum
                f.seek(phoff)
                phdrs = f.read(phentsize * phnum)
                for i in range(len(phdrs) // phentsize if phentsize >= 56 else 0):
                    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
                        "<IIQQQQ", phdrs, i * phentsize)
                    if p_type in (1, 4):  # PT_LOAD, PT_NOTE
                        need = max(need, p_offset + p_filesz)
            elif head[:8] == b"KDUMP   " and len(head) >= 448:
                # struct disk_dump_header: block_size, sub_hdr_size, bitmap_blocks
                block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iiI", head, 428)
                if block_size <= 0 or sub_hdr_size < 0:
                    return None
                half = bitmap_blocks // 2 * block_size
                descs = (1 + sub_hdr_size + bitmap_blocks) * block_size
                f.seek((1 + sub_hdr_size) * block_size + half)
                bitmap = f.read(half)
                need = descs
                dumpable = int.from_bytes(bitmap, "little").bit_count()
                if len(bitmap) == half and dumpable:
                    last = descs + (dumpable - 1) * 24  # struct page_desc
                    f.seek(last)
                    desc = f.read(12)
                    need = last + 24
                    if len(desc) == 12:
                        offset, length = struct.unpack("<qi", desc)
                        need = max(need, offset + length)
            else:
                return None
    except (OSError, struct.error, ValueError):
        return None
    return (size, need) if size < need else None


def truncated_text(trunc: Tuple[int, int]) -> str:
    size, need = trunc
    return f"truncated: {size} of {need} bytes"


def vmlinux_release(path: str) -> Optional[str]:
    """The release a vmlinux was built as: the second word of the ``Linux version``
    banner in its .rodata (no debug info needed, so it also names files drgn refused)."""
    try:
        with open(path, "rb") as f:
            ehdr = f.read(64)
            if ehdr[:4] != b"\x7fELF" or ehdr[4:5] != b"\x02":
                return None
            shoff, = struct.unpack_from("<Q", ehdr, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ehdr, 0x3A)
            f.seek(shoff)
            shdrs = [struct.unpack_from("<IIQQQQ", f.read(shentsize), 0) for _ in range(shnum)]
            _, _, _, _, str_off, str_size = shdrs[shstrndx]
            f.seek(str_off)
            names = f.read(str_size)
            for name, _, _, _, off, size in shdrs:
                if names[name:names.index(b"\0", name)] == b".rodata":
                    f.seek(off)
                    data = f.read(size)
                    at = data.find(b"Linux version ")
                    if at < 0:
                        return None
                    return data[at + 14:data.index(b" ", at + 14)].decode(errors="replace")
    except (OSError, struct.error, ValueError, IndexError):
        return None
    return None


def is_vmcore(head: bytes) -> bool:
    """Whether a file's first 18 bytes are a kdump-compressed header or an ELF64
    core (e_type ET_CORE, little-endian)."""
    return head[:8] == b"KDUMP   " or (head[:5] == b"\x7fELF\x02" and head[16:18] == b"\x04\x00")


def open_vmcore_file() -> Optional[str]:
    """
    The vmcore file this process has open, if exactly one: drgn opens the dump and
    keeps it open, and /proc/self/fd names it. For an entry point given a Program but
    not its path (``drgn -c VMCORE script``): pass the result as
    ``ScanOptions(vmcore=...)`` to read it with libhelper's own readers. Never
    /proc/kcore: the live kernel is read through drgn.
    """
    found = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
            if not path.startswith("/") or path.startswith("/proc/") or \
                    not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if is_vmcore(f.read(18)):
                    found.add(path)
        except OSError:
            continue
    return found.pop() if len(found) == 1 else None
