"""Fetch and extract Debian cloud-amd64 kernels (image, a few modules, debug vmlinux).

Packages come from Debian's archive through a private apt state (never dpkg -i), with
mirror URIs taken from the machine's own apt configuration. Each kernel is extracted once
into the cache; a later run finds `kernel.json` and downloads nothing.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import cache

# Series the test bed boots. `suites` are searched for candidate ABIs (newest first).
SERIES = [
    {"name": "5.10", "suites": ["bullseye", "bullseye-security"],
     "abi": r"5\.10\.0-\d+-cloud-amd64"},
    {"name": "6.1", "suites": ["bookworm", "bookworm-security"],
     "abi": r"6\.1\.0-\d+-cloud-amd64"},
    {"name": "6.12", "suites": ["trixie", "trixie-security", "bookworm", "bookworm-security"],
     "abi": r"6\.12\.\d+\+deb1\d-cloud-amd64"},
    {"name": "sid", "suites": ["sid"], "abi": r"\d+\.\d+\.\d+\+deb\d+-cloud-amd64"},
    # The newest kernel with debug info, wherever it is: trixie-backports had 7.3
    # (with -dbg) while sid still had 7.2.
    {"name": "bpo", "suites": ["trixie-backports"], "abi": r"\d+\.\d+\.\d+\+deb13-cloud-amd64"},
]

# Modules the guest loads, by name; modprobe resolves their dependencies. Some are
# built in on newer kernels, which `--show-depends` reports as "builtin".
GUEST_MODULES = ["qemu_fw_cfg", "virtio_pci", "virtio_blk", "ext4"]
MODULE_DIRS = ["drivers/virtio", "drivers/block", "drivers/firmware", "fs/ext4", "fs/jbd2",
               "fs/mbcache.ko*", "lib", "crypto", "arch/x86/crypto"]

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def log(msg):
    print(f"[kernels] {msg}", file=sys.stderr, flush=True)


def machine_mirrors():
    """(debian URI, security URI) as the machine's apt configuration names them."""
    uris = []
    files = sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for f in files:
        for line in Path(f).read_text().splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            text = Path(f).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)", line)
            if m:
                uris.append(m.group(2))
    debian = [u for u in uris if re.search(r"/debian/?$", u)]
    security = [u for u in uris if re.search(r"/debian-security/?$", u)]
    if not debian:
        raise SystemExit("testbed: no Debian mirror found in the machine's apt configuration")
    main = debian[0].rstrip("/")
    sec = security[0].rstrip("/") if security else main + "-security"
    return main, sec


class Apt:
    """apt-get/apt-cache with a private sources list and state under the cache."""

    def __init__(self):
        self.dir = cache.path("apt")
        (self.dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.dir / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        main, sec = machine_mirrors()
        suites = sorted({s for ser in SERIES for s in ser["suites"]})
        lines = []
        for s in suites:
            uri = sec if s.endswith("-security") else main
            lines.append(f"deb [signed-by={KEYRING}] {uri} {s} main")
        self.sources = self.dir / "sources.list"
        self.sources.write_text("\n".join(lines) + "\n")
        self.opts = ["-o", f"Dir::Etc::sourcelist={self.sources}", "-o", "Dir::Etc::sourceparts=-",
                     "-o", f"Dir::State::Lists={self.dir / 'lists'}",
                     "-o", f"Dir::Cache={self.dir}", "-o", f"Dir::Cache::archives={self.dir / 'archives'}",
                     "-o", "APT::Get::List-Cleanup=0", "-o", "Debug::NoLocking=1"]
        self.updated = False
        self._names = {}
        self._dbg = None

    def update(self):
        if not self.updated:
            log("apt-get update (private lists)")
            subprocess.run(["apt-get", "-qq", *self.opts, "update"], check=True)
            self.updated = True

    def pkgnames(self, prefix):
        """Package names starting with `prefix` (each apt-cache call takes seconds with
        seven suites' lists: asked once per prefix and run)."""
        if prefix not in self._names:
            out = subprocess.run(["apt-cache", *self.opts, "pkgnames", prefix],
                                 check=True, capture_output=True, text=True).stdout
            self._names[prefix] = out.split()
        return self._names[prefix]

    def dbg_suites(self):
        """{linux-image-*-dbg package: suites carrying it}, once per run."""
        if self._dbg is None:
            names = [n for n in self.pkgnames("linux-image-") if n.endswith("-dbg")]
            self._dbg = self.suites_of(names) if names else {}
        return self._dbg

    def suites_of(self, pkgs):
        """{package: the suites (codenames, as in the sources list) that carry it}, in one
        apt-cache call (one per package took minutes for the kernels of seven suites)."""
        out = subprocess.run(["apt-cache", *self.opts, "madison", *pkgs],
                             capture_output=True, text=True).stdout
        suites = {p: set() for p in pkgs}
        # "pkg | version | http://mirror/debian sid/main amd64 Packages"
        for line in out.splitlines():
            if line.count("|") == 2:
                pkg, _, where = (f.strip() for f in line.split("|"))
                if pkg in suites and len(where.split()) > 1:
                    suites[pkg].add(where.split()[1].split("/")[0])
        return suites

    def download(self, pkg, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        have = list(dest.glob(f"{glob.escape(pkg)}_*.deb"))
        if have:
            return have[0]
        r = subprocess.run(["apt-get", "-qq", *self.opts, "download", pkg], cwd=dest,
                           capture_output=True, text=True)
        have = list(dest.glob(f"{glob.escape(pkg)}_*.deb"))
        if r.returncode or not have:
            raise RuntimeError(f"apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
        return have[0]


def version_key(abi):
    return [int(x) for x in re.findall(r"\d+", abi)]


def candidates(apt, series):
    """ABIs of the series with debug info, newest first: those its own suites carry
    (sid's and trixie-backports' ABIs look alike)."""
    rx = re.compile(r"linux-image-(" + series["abi"] + r")-dbg$")
    carried = apt.dbg_suites()
    abis = {m.group(1) for n, suites in carried.items()
            if (m := rx.match(n)) and suites & set(series["suites"])}
    return sorted(abis, key=version_key, reverse=True)


def image_packages(apt, abi):
    """Packages holding vmlinuz and modules: split (7.x: linux-binary + linux-modules)
    or the classic linux-image-ABI[-unsigned]."""
    names = set(apt.pkgnames("linux-"))
    if f"linux-binary-{abi}" in names:
        return [f"linux-binary-{abi}", f"linux-modules-{abi}"]
    if f"linux-image-{abi}-unsigned" in names:
        return [f"linux-image-{abi}-unsigned"]
    return [f"linux-image-{abi}"]


def _tar_extract(deb: Path, dest: Path, patterns):
    """Extract members matching shell patterns; missing patterns are not an error."""
    p1 = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest), "--wildcards", *patterns],
                   stdin=p1.stdout, stderr=subprocess.DEVNULL)
    p1.stdout.close()
    p1.wait()


def extract(abi, debs, dbg_deb, dest: Path):
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pats = [f"./boot/vmlinuz-{abi}", f"./boot/config-{abi}", f"./boot/System.map-{abi}"]
    for top in ("./lib/modules", "./usr/lib/modules"):
        # 7.x split packages keep vmlinuz and config beside the modules.
        pats += [f"{top}/{abi}/modules.order", f"{top}/{abi}/modules.builtin*",
                 f"{top}/{abi}/vmlinuz", f"{top}/{abi}/config"]
        pats += [f"{top}/{abi}/kernel/{d}" for d in MODULE_DIRS]
    for deb in debs:
        _tar_extract(deb, tmp, pats)
    log(f"extracting debug vmlinux of {abi} (~30 s)")
    _tar_extract(dbg_deb, tmp, [f"./usr/lib/debug/boot/vmlinux-{abi}",
                                f"./usr/lib/debug/lib/modules/{abi}/vmlinux"])
    vmlinux = next((os.path.realpath(p) for p in
                    glob.glob(f"{tmp}/usr/lib/debug/lib/modules/{abi}/vmlinux")
                    + glob.glob(f"{tmp}/usr/lib/debug/boot/vmlinux-{abi}")
                    if os.path.isfile(p)), None)
    vmlinuz = next((Path(p) for p in glob.glob(f"{tmp}/boot/vmlinuz-{abi}")
                    + glob.glob(f"{tmp}/*lib/modules/{abi}/vmlinuz")
                    + glob.glob(f"{tmp}/usr/lib/modules/{abi}/vmlinuz")), tmp / "none")
    if not vmlinux or not vmlinuz.exists():
        raise RuntimeError(f"{abi}: vmlinuz or debug vmlinux missing from packages")
    os.rename(vmlinux, tmp / "vmlinux")
    os.rename(vmlinuz, tmp / "vmlinuz")
    shutil.rmtree(tmp / "usr" / "lib" / "debug", ignore_errors=True)
    moddir = next(iter(glob.glob(f"{tmp}/lib/modules/{abi}") + glob.glob(f"{tmp}/usr/lib/modules/{abi}")))
    os.rename(moddir, tmp / "modules")
    shutil.rmtree(tmp / "lib", ignore_errors=True)
    shutil.rmtree(tmp / "usr", ignore_errors=True)
    # depmod wants <base>/lib/modules/<abi>; give it a symlink farm.
    base = tmp / "depmod"
    (base / "lib" / "modules").mkdir(parents=True)
    os.symlink("../../../modules", base / "lib" / "modules" / abi)
    subprocess.run(["depmod", "-b", str(base), abi], check=True)
    if dest.exists():
        shutil.rmtree(dest)
    os.rename(tmp, dest)


def release_of(vmlinuz: Path) -> str:
    """The kernel release string embedded in a bzImage (the version at setup header 0x20e)."""
    data = vmlinuz.read_bytes()
    off = int.from_bytes(data[0x20E:0x210], "little") + 0x200
    return data[off:data.index(b"\0", off)].split(b" ")[0].decode()


_APT = None


def _shared_apt():
    """One private apt state per run: its lists are updated once, not per kernel."""
    global _APT
    if _APT is None:
        _APT = Apt()
    return _APT


def _extracted(rec):
    return Path(rec["vmlinux"]).exists() and Path(rec["vmlinuz"]).exists()


def _pin(pin, series_name, rec, skipped):
    """Make `rec` the series' kernel until the next fresh resolution."""
    rec = {**rec, "series": series_name, "skipped": skipped}
    pin.write_text(json.dumps(rec, indent=2))
    log(f"series {series_name}: using {rec['abi']}")
    return rec


def ensure(series_name, apt=None, refresh=False):
    """The kernel record of a series: the pinned one (the ABI a previous run resolved),
    or, when the cache has none or `refresh` is true (the test bed's fresh runs), the
    newest ABI of the series that downloads, extracted once per ABI."""
    series = next(s for s in SERIES if s["name"] == series_name)
    pin = cache.path("kernels") / f"series-{series_name}.json"
    pinned = json.loads(pin.read_text()) if pin.exists() else None
    if pinned and _extracted(pinned) and not refresh:
        return pinned
    apt = apt or _shared_apt()
    apt.update()
    debdir = cache.path("debs")
    errors = []
    for abi in candidates(apt, series):
        dest = cache.path("kernels") / abi
        known = dest / "kernel.json"
        rec = (json.loads(known.read_text()) if known.exists()
               else pinned if pinned and pinned["abi"] == abi else None)
        if rec and _extracted(rec):  # this ABI was extracted before: reuse it
            return _pin(pin, series_name, rec, errors)
        try:
            debs = [apt.download(p, debdir) for p in image_packages(apt, abi)]
            log(f"downloading linux-image-{abi}-dbg (~350 MB)")
            dbg = apt.download(f"linux-image-{abi}-dbg", debdir)
        except RuntimeError as e:
            errors.append(str(e))
            log(f"{abi}: not downloadable, trying an older ABI")
            continue
        extract(abi, debs, dbg, dest)
        for d in debs + [dbg]:
            d.unlink()  # extracted: the .debs are 1.3 GB for four kernels
        rec = {"series": series_name, "abi": abi, "packages": [d.name for d in debs + [dbg]],
               "release": release_of(dest / "vmlinuz"),
               "vmlinuz": str(dest / "vmlinuz"), "vmlinux": str(dest / "vmlinux"),
               "modules": str(dest / "modules"), "depmod_base": str(dest / "depmod")}
        (dest / "kernel.json").write_text(json.dumps(rec, indent=2))
        return _pin(pin, series_name, rec, errors)
    raise SystemExit(f"testbed: no downloadable kernel for series {series_name}: {errors}")


if __name__ == "__main__":
    for s in sys.argv[1:] or [s["name"] for s in SERIES]:
        print(json.dumps(ensure(s), indent=2))
