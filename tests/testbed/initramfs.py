"""Build the guest's initramfs: busybox-static, /init, the scenarios, zhog and the
kernel modules the guest loads (decompressed, in dependency order)."""

import gzip
import lzma
import os
import shutil
import stat
import subprocess
from pathlib import Path

from . import cache

BUSYBOX = "/bin/busybox"
GUEST = cache.PROJECT / "samples" / "guest"
SCENARIOS = cache.PROJECT / "samples" / "scenarios"


def inputs():
    """Files whose content decides what the guest does (part of every case's key)."""
    return sorted(list(GUEST.glob("*")) + list(SCENARIOS.glob("*.sh"))
                  + [Path(__file__), Path(__file__).with_name("guest.py")])


def module_order(kernel, names):
    """Paths of the .ko files to insmod, dependencies first, each once."""
    # Built-in modules print "builtin NAME" or, where the package lacks modules.builtin
    # (7.x split packages), a warning and a non-zero status: both need no insmod.
    out = subprocess.run(["modprobe", "-d", kernel["depmod_base"], "-S", kernel["abi"],
                          "--show-depends", "-a", *names],
                         capture_output=True, text=True).stdout
    seen, order = set(), []
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "insmod" and parts[1] not in seen:
            seen.add(parts[1])
            order.append(Path(parts[1]))
    return order


def build_zhog(dest: Path):
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(dest), str(GUEST / "zhog.c")],
                   check=True)


def _newc(out, name, mode, data=b"", ino=[0]):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join(f"{v:08x}" for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
    out.write(hdr.encode() + name_b)
    out.write(b"\0" * (-(110 + len(name_b)) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def write_cpio(root: Path, dest: Path):
    """A gzip'ed newc archive of `root` (no cpio binary needed)."""
    with gzip.open(dest, "wb", compresslevel=6) as out:
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for n in sorted(dirs) + sorted(files):
                p = Path(dirpath) / n
                rel = str(p.relative_to(root))
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    _newc(out, rel, st.st_mode, os.readlink(p).encode())
                elif stat.S_ISDIR(st.st_mode):
                    _newc(out, rel, st.st_mode)
                else:
                    _newc(out, rel, st.st_mode, p.read_bytes())
        _newc(out, "TRAILER!!!", 0)


def build(kernel, modules, dest: Path):
    tmp = dest.with_suffix(".d")
    shutil.rmtree(tmp, ignore_errors=True)
    for d in ("bin", "modules", "scenarios"):
        (tmp / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, tmp / "bin" / "busybox")
    os.symlink("busybox", tmp / "bin" / "sh")
    build_zhog(tmp / "bin" / "zhog")
    shutil.copy(GUEST / "init", tmp / "init")
    os.chmod(tmp / "init", 0o755)
    for s in SCENARIOS.glob("*.sh"):
        shutil.copy(s, tmp / "scenarios" / s.name)
    names = []
    for ko in module_order(kernel, modules):
        name = ko.name
        if name.endswith(".xz"):
            name = name[:-3]
            (tmp / "modules" / name).write_bytes(lzma.decompress(ko.read_bytes()))
        elif name.endswith(".zst"):
            name = name[:-4]
            subprocess.run(["zstd", "-q", "-d", "-f", str(ko), "-o", str(tmp / "modules" / name)],
                           check=True)
        else:
            shutil.copy(ko, tmp / "modules" / name)
        names.append(name)
    (tmp / "modules" / "order").write_text("".join(n + "\n" for n in names))
    write_cpio(tmp, dest)
    shutil.rmtree(tmp)
    return dest
