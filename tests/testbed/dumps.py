"""Turn qemu's dumps into vmcores that drgn, crash and makedumpfile accept.

qemu 7.2 (Debian 12) has three defects, each measured in real-kernel-testbed.md:
- kdump-zlib comes in makedumpfile's *flattened* layout: `makedumpfile -R` rebuilds it;
- its kdump header leaves utsname empty, so libkdumpfile has no architecture: fill it
  (release from the VMCOREINFO the same file carries; libkdumpfile ignores a utsname
  with any field empty, so all six are set);
- its ELF header says e_ehsize = 8 and puts section headers before the program headers,
  which makedumpfile 1.7.2 rejects: rewrite the header the way the kernel's /proc/vmcore
  has it (program headers right after the ELF header, no sections).
"""

import re
import struct
import subprocess
from pathlib import Path

# struct disk_dump_header: signature[8], header_version (int), struct new_utsname
# (six 65-byte fields: sysname, nodename, release, version, machine, domainname).
UTS_OFF = 12
UTS_LEN = 65


def vmcoreinfo_release(data: bytes) -> str:
    m = re.search(rb"OSRELEASE=([^\n]+)\n", data)
    if not m:
        raise ValueError("no VMCOREINFO OSRELEASE in dump")
    return m.group(1).decode()


def unflatten(flat: Path, dest: Path):
    with open(flat, "rb") as f:
        flattened = f.read(16).startswith(b"makedumpfile")
    if not flattened:
        flat.rename(dest)
        return
    dest.unlink(missing_ok=True)
    with open(flat, "rb") as inp:
        subprocess.run(["makedumpfile", "-R", str(dest)], stdin=inp, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
    flat.unlink()


def fix_kdump_header(path: Path):
    with open(path, "r+b") as f:
        head = f.read(1 << 20)
        if not head.startswith(b"KDUMP   "):
            raise ValueError(f"{path}: not a kdump-compressed file")
        release = vmcoreinfo_release(head) if b"OSRELEASE=" in head else None
        if release is None:
            # VMCOREINFO sits after the bitmaps in larger dumps: look further.
            f.seek(0)
            release = vmcoreinfo_release(f.read(64 << 20))
        uts = ("Linux", "testbed-guest", release, "#1 SMP", "x86_64", "(none)")
        for i, value in enumerate(uts):
            f.seek(UTS_OFF + i * UTS_LEN)
            f.write(value.encode().ljust(UTS_LEN, b"\0")[:UTS_LEN])


def fix_elf_header(path: Path):
    with open(path, "r+b") as f:
        ehdr = bytearray(f.read(64))
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            raise ValueError(f"{path}: not an ELF64 file")
        (phoff,) = struct.unpack_from("<Q", ehdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 0x36)
        if phnum == 0xFFFF:
            raise ValueError(f"{path}: PN_XNUM program headers are not handled")
        f.seek(phoff)
        phdrs = f.read(phentsize * phnum)
        struct.pack_into("<Q", ehdr, 0x20, 64)           # e_phoff
        struct.pack_into("<Q", ehdr, 0x28, 0)            # e_shoff
        struct.pack_into("<H", ehdr, 0x34, 64)           # e_ehsize
        struct.pack_into("<HHH", ehdr, 0x3A, 0, 0, 0)    # e_shentsize, e_shnum, e_shstrndx
        f.seek(0)
        f.write(ehdr)
        f.write(phdrs)


def filtered(elf: Path, dest: Path, level=31, compress="-c", makedumpfile="makedumpfile"):
    """`makedumpfile -c -d LEVEL`, what a customer's kdump service writes: zlib
    (`-c`, Debian's kdump-tools) or LZO (`-l`, RHEL's kdump)."""
    dest.unlink(missing_ok=True)
    r = subprocess.run([makedumpfile, compress, "-d", str(level), str(elf), str(dest)],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"makedumpfile {compress} -d {level} failed: "
                           f"{(r.stdout + r.stderr).strip()[-500:]}")
    fix_kdump_header(dest)
