"""Build (or reuse) every test-bed case and write the index.

A case is one guest boot of one kernel that runs every scenario, then three dumps of
it: kdump-compressed (zlib), ELF, and `makedumpfile -c -d 31` of an ELF. Cases are cached
under the kernel ABI and a hash of everything that decides what the guest does, so an
unchanged case is never rebuilt; stale cases of the same kernel are deleted.

    python3 -m tests.testbed.build [--kernels 6.1,sid] [--bulk N] [--mem MIB]
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import cache, dumps, guest, initramfs, kernels

SCENARIOS = ["live", "tmpfs", "ext4", "anon", "slab", "tcp", "swap", "children", "subtree", "bulk"]
FORMATS = ["kdump", "elf", "d31"]
DEFAULT_BULK = 1000
DEFAULT_MEM = 512


def log(msg):
    print(f"[testbed] {msg}", file=sys.stderr, flush=True)


def case_key(kernel, bulk, mem):
    files = initramfs.inputs() + [Path(dumps.__file__), Path(__file__)]
    return cache.digest(files, f"{kernel['abi']} bulk={bulk} mem={mem} {','.join(SCENARIOS)}")


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


def build_case(kernel, bulk=DEFAULT_BULK, mem=DEFAULT_MEM):
    key = case_key(kernel, bulk, mem)
    cases = cache.path("cases")
    d = cases / f"{kernel['abi']}-{key}"
    meta = d / "case.json"
    if meta.exists():
        return json.loads(meta.read_text())
    for stale in cases.glob(f"{kernel['abi']}-*"):
        log(f"removing stale case {stale.name}")
        shutil.rmtree(stale)
    work = d / "work"
    work.mkdir(parents=True)
    t0 = time.monotonic()
    initrd = initramfs.build(kernel, kernels.GUEST_MODULES, work / "initrd.gz")
    cmdline = f"mz.scenarios={','.join(SCENARIOS)} mz.bulk={bulk}"
    log(f"{kernel['abi']}: booting ({mem} MiB, {bulk} bulk zombies)")
    g = guest.boot(kernel, initrd, work, cmdline, mem_mb=mem, disks=make_disks(work),
                   timeout=300 + bulk * 0.5)
    t_ready = time.monotonic() - t0
    timings = {"ready_s": round(t_ready, 1)}
    try:
        t = time.monotonic()
        flat = g.dump(work / "kdump.flat", "kdump-zlib")
        dumps.unflatten(flat, d / "vmcore.kdump")
        dumps.fix_kdump_header(d / "vmcore.kdump")
        timings["kdump_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        g.dump(d / "vmcore.elf", "elf")
        dumps.fix_elf_header(d / "vmcore.elf")
        timings["elf_s"] = round(time.monotonic() - t, 1)
        # makedumpfile cannot filter the paging ELF (it fails to validate mem_section
        # through its overlapping virtual segments); give it a physical-only ELF.
        t = time.monotonic()
        phys = work / "phys.elf"
        g.qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{phys}")
        dumps.fix_elf_header(phys)
        d31_error = None
        try:
            dumps.filtered(phys, d / "vmcore.d31")
        except RuntimeError as e:
            d31_error = str(e)
        phys.unlink()
        timings["d31_s"] = round(time.monotonic() - t, 1)
    finally:
        g.kill()
    truth = assemble_truth(g.truth.read_text().splitlines(), kernel)
    (d / "truth.json").write_text(json.dumps(truth, indent=1))
    shutil.copy(g.console, d / "console.log")
    shutil.rmtree(work)
    rec = {"key": key, "kernel": kernel["series"], "abi": kernel["abi"],
           "release": truth["guest"]["release"], "vmlinux": kernel["vmlinux"],
           "bulk": bulk, "mem_mb": mem, "truth": str(d / "truth.json"),
           "vmcores": {f: str(d / f"vmcore.{f}") for f in FORMATS if (d / f"vmcore.{f}").exists()},
           "errors": {"d31": d31_error} if d31_error else {}, "timings": timings}
    meta.write_text(json.dumps(rec, indent=2))
    log(f"{kernel['abi']}: case built in {time.monotonic() - t0:.0f} s {timings}")
    return rec


def index_path():
    return cache.root() / "index.json"


def write_index(cases):
    entries = []
    for c in cases:
        for scen in SCENARIOS:
            for fmt, vmcore in c["vmcores"].items():
                entries.append({"kernel": c["kernel"], "abi": c["abi"], "release": c["release"],
                                "scenario": scen, "format": fmt, "vmcore": vmcore,
                                "vmlinux": c["vmlinux"], "truth": c["truth"]})
    index = {"cases": cases, "entries": entries,
             "cache_bytes": cache.du(cache.root())}
    index_path().write_text(json.dumps(index, indent=1))
    return index


def build_all(series=None, bulk=DEFAULT_BULK, mem=DEFAULT_MEM):
    apt = None
    cases = []
    for s in series or [k["name"] for k in kernels.SERIES]:
        try:
            kernel = kernels.ensure(s)
        except SystemExit:
            raise
        except Exception:
            apt = apt or kernels.Apt()
            kernel = kernels.ensure(s, apt)
        cases.append(build_case(kernel, bulk, mem))
    return write_index(cases)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", help="comma-separated series (default: all)")
    ap.add_argument("--bulk", type=int, default=DEFAULT_BULK)
    ap.add_argument("--mem", type=int, default=DEFAULT_MEM)
    ap.add_argument("--print-index", action="store_true", help="print the index path and exit")
    args = ap.parse_args(argv)
    if args.print_index:
        print(index_path())
        return 0
    try:
        index = build_all(args.kernels.split(",") if args.kernels else None, args.bulk, args.mem)
    except guest.GuestError as e:
        print(f"testbed: {e}", file=sys.stderr)
        return 1
    log(f"index: {index_path()} ({len(index['entries'])} entries, cache {index['cache_bytes'] >> 20} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
