"""Build (or reuse) every test-bed case and write the index.

A case is one guest boot of one kernel that runs every scenario, then its dumps:
kdump-compressed (zlib), ELF, and `makedumpfile -c -d 31` of an ELF twice: by the newest
makedumpfile (`d31`, tools.py: what users of new kernels run) and by Debian 12's (`d31distro`,
which drops pages of 6.12+ kernels: the fault path). Cases are cached under the kernel ABI
and a hash of everything that decides what the guest does and how its dumps are made
(the newest makedumpfile's version included), so an unchanged case is never rebuilt;
stale cases of the same kernel are deleted.

Variants are extra, smaller boots for what one case cannot show (e.g. a kernel booted
with `cgroup_disable=memory`): kdump only, cached under `variants/`, listed in the index
under "variants".

    python3 -m tests.testbed.build [--kernels 6.1,sid] [--bulk N] [--mem MIB] [--variants-only]
"""

import argparse
import glob
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import cache, dumps, guest, initramfs, kernels, tools

SCENARIOS = ["live", "tmpfs", "ext4", "anon", "slab", "tcp", "sock", "swap", "children", "subtree",
             "hosts", "bulk"]
FORMATS = ["kdump", "elf", "d31", "d31distro"]
#: Formats only the tests of dumps as such use (test ids `<kernel>-<format>`), not every
#: scenario's tests: Debian 12's makedumpfile, kept for the fault path it exercises.
DUMP_ONLY_FORMATS = {"d31distro"}
#: makedumpfile of each filtered format: the newest (tools.py) or the distribution's.
DISTRO_MAKEDUMPFILE = "makedumpfile"
DEFAULT_BULK = 1000
DEFAULT_MEM = 512

# name -> kernel series, extra kernel command line, scenarios. The guest's /init skips
# the scenarios (and records memcg=false) when the memory controller is absent.
VARIANTS = {
    "nomemcg": {"series": "6.1", "cmdline": "cgroup_disable=memory", "scenarios": ["live"]},
}


def log(msg):
    print(f"[testbed] {msg}", file=sys.stderr, flush=True)


def _key(extra):
    """Cache key: what the guest runs (initramfs inputs, scenarios, guest.py) and how
    its dumps are made; this module's own bookkeeping is not part of it."""
    return cache.digest(initramfs.inputs() + [Path(dumps.__file__)], extra)


def makedumpfile_of(fmt):
    """The makedumpfile a filtered format is made with."""
    return DISTRO_MAKEDUMPFILE if fmt == "d31distro" else tools.ensure("makedumpfile")["bin"]


def case_key(kernel, bulk, mem, slab=0, formats=FORMATS):
    extra = f" slab={slab}" if slab else ""
    if any(f in ("d31", "lzo") for f in formats):
        extra += f" makedumpfile={tools.ensure('makedumpfile')['version']}"
    if list(formats) != FORMATS:
        extra += f" formats={','.join(formats)}"
    return _key(f"{kernel['abi']} bulk={bulk} mem={mem}{extra} {','.join(SCENARIOS)}")


def assemble_truth(lines, kernel):
    """Regroup the guest's JSON lines into one manifest (no new facts are derived)."""
    truth = {"kernel": {"series": kernel["series"], "abi": kernel["abi"]},
             "cgroups": {}, "scenarios": {}}
    cgs = truth["cgroups"]

    def cg(path):
        scen = path.split("/")[2] if path.count("/") >= 2 else None
        return cgs.setdefault(path, {"path": path, "scenario": scen, "removed": False})

    for line in lines:
        rec = json.loads(line)
        kind = rec.pop("kind")
        if kind == "meta":
            truth["guest"] = rec
        elif kind == "meta_after":
            truth["guest"].update(rec)
        elif kind == "cgroup":
            cg(rec["path"]).update(rec)
        elif kind == "rmdir":
            cg(rec["path"])["removed"] = True
        elif kind == "family":  # hosts: which leak a cgroup belongs to, its instance tokens
            cg(rec["path"]).update(family=rec["family"], tokens=rec["tokens"])
        elif kind == "sockets":
            cg(rec["path"]).update(socket_inodes=rec["inodes"], socket_pid=rec["pid"])
        elif kind == "memcg_killed":
            cg(rec["path"])["memcg_killed"] = True
        elif kind == "state":
            c = cg(rec["path"])
            c["dying"] = rec["dying"]
            c["dying_basis"] = rec["basis"]
        elif kind == "stat":
            truth["scenarios"].setdefault(rec["scenario"], {})["cgroup_stat"] = rec["cgroup_stat"]
        elif kind == "alive":
            c = cg(rec["path"])
            c.update(cgroup_id=rec["cgroup_id"], alive=True, memory_css_online=rec["memory"])
        elif kind == "end":
            truth["complete"] = True
    if not truth.get("complete"):
        raise guest.GuestError("guest truth is incomplete (no end record)")
    for c in cgs.values():
        if c["scenario"]:
            truth["scenarios"].setdefault(c["scenario"], {}).setdefault("cgroups", []).append(c["path"])
    return truth


def make_disks(work: Path):
    disk, swap = work / "disk.img", work / "swap.img"
    for p in (disk, swap):
        p.unlink(missing_ok=True)
        with open(p, "wb") as f:
            f.truncate(128 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "mzdisk", str(disk)], check=True)
    return [{"path": disk}, {"path": swap}]


def _boot_and_dump(kernel, d: Path, cmdline, mem, timeout, formats):
    """Boot, wait for the workload, write vmcore.<fmt> for each of `formats` into `d`;
    return (truth manifest, timings, errors by format)."""
    work = d / "work"
    work.mkdir(parents=True)
    t0 = time.monotonic()
    initrd = initramfs.build(kernel, kernels.GUEST_MODULES, work / "initrd.gz")
    g = guest.boot(kernel, initrd, work, cmdline, mem_mb=mem, disks=make_disks(work),
                   timeout=timeout)
    timings = {"ready_s": round(time.monotonic() - t0, 1)}
    errors = {}
    try:
        # Every dump of a case shows the same memory: the live tests are the place for
        # memory that moves.
        g.stop()
        for fmt in formats:
            t = time.monotonic()
            dest = d / f"vmcore.{fmt}"
            if fmt == "kdump":
                dumps.unflatten(g.dump(work / "kdump.flat", "kdump-zlib"), dest)
                dumps.fix_kdump_header(dest)
            elif fmt == "elf":
                dumps.fix_elf_header(g.dump(dest, "elf"))
            elif fmt in ("d31", "d31distro", "lzo"):
                # makedumpfile cannot filter the paging ELF (it fails to validate
                # mem_section through its overlapping virtual segments): give it a
                # physical-only ELF, made once per boot.
                phys = work / "phys.elf"
                if not phys.exists():
                    g.qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{phys}")
                    dumps.fix_elf_header(phys)
                try:
                    dumps.filtered(phys, dest, compress="-l" if fmt == "lzo" else "-c",
                                   makedumpfile=makedumpfile_of(fmt))
                except RuntimeError as e:
                    errors[fmt] = str(e)
            timings[f"{fmt}_s"] = round(time.monotonic() - t, 1)
    finally:
        g.kill()
    truth = assemble_truth(g.truth.read_text().splitlines(), kernel)
    (d / "truth.json").write_text(json.dumps(truth, indent=1))
    shutil.copy(g.console, d / "console.log")
    shutil.rmtree(work)
    return truth, timings, errors


def _cached(parent: Path, prefix: str, key: str, rebuild=False):
    """(case dir, its record if already built); stale builds of `prefix` are removed,
    and with `rebuild` the current one too."""
    d = parent / f"{prefix}-{key}"
    meta = d / "case.json"
    if meta.exists() and not rebuild:
        return d, json.loads(meta.read_text())
    for stale in parent.glob(f"{glob.escape(prefix)}-*"):
        log(f"removing {'stale ' if stale != d else ''}case {stale.name}")
        shutil.rmtree(stale)
    return d, None


def build_case(kernel, bulk=DEFAULT_BULK, mem=DEFAULT_MEM, slab=0, formats=FORMATS,
               rebuild=False):
    """`slab`: negative dentries each bulk zombie leaves behind; `formats`: FORMATS
    and "lzo" (`makedumpfile -l -d 31`), for benchmarks; `rebuild`: even if cached."""
    key = case_key(kernel, bulk, mem, slab, formats)
    d, rec = _cached(cache.path("cases"), kernel["abi"], key, rebuild)
    if rec:
        return rec
    t0 = time.monotonic()
    log(f"{kernel['abi']}: booting ({mem} MiB, {bulk} bulk zombies)")
    truth, timings, errors = _boot_and_dump(
        kernel, d, f"mz.scenarios={','.join(SCENARIOS)} mz.bulk={bulk} mz.slab={slab}", mem,
        timeout=300 + bulk * 0.5 + bulk * slab * 1e-4, formats=formats)
    rec = {"key": key, "kernel": kernel["series"], "abi": kernel["abi"],
           "packages": kernel.get("packages", []), "built": _now(),
           "release": truth["guest"]["release"], "vmlinux": kernel["vmlinux"],
           "bulk": bulk, "slab": slab, "mem_mb": mem, "truth": str(d / "truth.json"),
           "vmcores": {f: str(d / f"vmcore.{f}") for f in formats if (d / f"vmcore.{f}").exists()},
           "dump_tools": {f: tools.version_of(makedumpfile_of(f)) for f in formats
                          if f in ("d31", "d31distro", "lzo")},
           "errors": errors, "timings": timings}
    (d / "case.json").write_text(json.dumps(rec, indent=2))
    log(f"{kernel['abi']}: case built in {time.monotonic() - t0:.0f} s {timings}")
    return rec


def variant_key(kernel, name, spec, mem):
    return _key(f"variant={name} {kernel['abi']} mem={mem} "
                f"{spec['cmdline']} {','.join(spec['scenarios'])}")


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def build_variant(kernel, name, mem=DEFAULT_MEM, build=True, rebuild=False):
    """A variant case: one boot with the variant's command line, a kdump-zlib dump.
    With build=False only a cached one is returned (or None)."""
    spec = VARIANTS[name]
    key = variant_key(kernel, name, spec, mem)
    parent = cache.path("variants")
    if not build:
        meta = parent / f"{name}-{kernel['abi']}-{key}" / "case.json"
        return json.loads(meta.read_text()) if meta.exists() else None
    d, rec = _cached(parent, f"{name}-{kernel['abi']}", key, rebuild)
    if rec:
        return rec
    log(f"{kernel['abi']}: booting variant {name} ({spec['cmdline']})")
    truth, timings, _ = _boot_and_dump(
        kernel, d, f"mz.scenarios={','.join(spec['scenarios'])} mz.bulk=0 {spec['cmdline']}",
        mem, timeout=300, formats=["kdump"])
    rec = {"name": name, "key": key, "kernel": kernel["series"], "abi": kernel["abi"],
           "packages": kernel.get("packages", []), "built": _now(),
           "release": truth["guest"]["release"], "vmlinux": kernel["vmlinux"],
           "cmdline": spec["cmdline"], "scenarios": spec["scenarios"], "mem_mb": mem,
           "truth": str(d / "truth.json"), "vmcores": {"kdump": str(d / "vmcore.kdump")},
           "timings": timings}
    (d / "case.json").write_text(json.dumps(rec, indent=2))
    return rec


def index_path():
    return cache.root() / "index.json"


def write_index(cases, variants=()):
    entries = []
    for c in cases:
        for scen in SCENARIOS:
            for fmt, vmcore in c["vmcores"].items():
                if fmt in DUMP_ONLY_FORMATS:
                    continue
                entries.append({"kernel": c["kernel"], "abi": c["abi"], "release": c["release"],
                                "scenario": scen, "format": fmt, "vmcore": vmcore,
                                "vmlinux": c["vmlinux"], "truth": c["truth"]})
    index = {"cases": cases, "entries": entries, "variants": list(variants),
             "cache_bytes": cache.du(cache.root())}
    index_path().write_text(json.dumps(index, indent=1))
    return index


def build_all(series=None, bulk=DEFAULT_BULK, mem=DEFAULT_MEM, variants=None,
              cases_too=True, fresh=False):
    """Build the cases of `series` (default: all). Variants of those series are built
    when `variants` is true (default: only when building every series, i.e. `make
    vmcores`), else listed only if already cached. With cases_too=False the index keeps
    its current cases and only the variants are (re)built. `fresh` (cache.fresh(): CI)
    resolves every series' newest ABI anew and rebuilds each case and variant built."""
    names = series or [k["name"] for k in kernels.SERIES]
    if variants is None:
        variants = series is None
    # Cases of other kernels already in the index stay listed (e.g. `make demo` builds
    # only 6.1), as long as they still exist.
    old = json.loads(index_path().read_text())["cases"] if index_path().exists() else []
    old = [c for c in old if Path(c["truth"]).exists()]
    if cases_too:
        for pkg in tools.TOOLS:  # pinned like the kernels; fresh runs take the newest
            tools.ensure(pkg, refresh=fresh)
        built = [build_case(kernels.ensure(s, refresh=fresh), bulk, mem, rebuild=fresh)
                 for s in names]
        order = [k["name"] for k in kernels.SERIES]
        keep = [c for c in old if c["kernel"] not in names]
        cases = sorted(built + keep, key=lambda c: order.index(c["kernel"]))
    else:
        cases = old
    recs = []
    for name, spec in VARIANTS.items():
        if spec["series"] not in names:
            continue
        rec = build_variant(kernels.ensure(spec["series"], refresh=fresh and not cases_too),
                            name, mem, build=variants, rebuild=fresh and variants)
        if rec:
            recs.append(rec)
    return write_index(cases, recs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", help="comma-separated series (default: all)")
    ap.add_argument("--bulk", type=int, default=DEFAULT_BULK)
    ap.add_argument("--mem", type=int, default=DEFAULT_MEM)
    ap.add_argument("--print-index", action="store_true", help="print the index path and exit")
    ap.add_argument("--variants", action=argparse.BooleanOptionalAction, default=None,
                    help="build the variant cases too (default: when building all series)")
    ap.add_argument("--variants-only", action="store_true",
                    help="build only the variants; keep the index's cases as they are")
    args = ap.parse_args(argv)
    if args.print_index:
        print(index_path())
        return 0
    try:
        index = build_all(args.kernels.split(",") if args.kernels else None, args.bulk, args.mem,
                          variants=True if args.variants_only else args.variants,
                          cases_too=not args.variants_only, fresh=cache.fresh())
    except guest.GuestError as e:
        print(f"testbed: {e}", file=sys.stderr)
        return 1
    log(f"index: {index_path()} ({len(index['entries'])} entries, "
        f"{len(index['variants'])} variants, cache {index['cache_bytes'] >> 20} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
