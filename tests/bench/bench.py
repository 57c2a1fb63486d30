"""`make bench`: page-scan speed on large test-bed guests.

Prints, per vmcore: the naive drgn loop (sampled), the raw memmap read rate
through drgn (the limit), scan/'s Python engine, the C engine with each
reader and thread count, slab attribution naive (one drgn read per object, as
the kernel's tools/cgroup/memcg_slabinfo.py) vs the C engine's slab walk over
the same slabs with each reader and thread count (on kdump input, with the
time it takes just to decompress what the walk reads), and the peak RSS of each
measurement. Cases come from tests/bench/build_large.py: 1,000 zombies with
1,000 negative dentries each (1 M charged slab objects in ~48,000 slabs).

Every measurement runs in a process of its own (``--child``), which opens the
vmcore, loads the debug info, runs that one measurement and reports its time
and its own peak RSS (getrusage(RUSAGE_SELF).ru_maxrss): the RSS column is the
real peak of one analysis. Each measurement runs ``--repeat`` times (default
3); the table shows medians. Aggregates of every C run are checked equal to
the Python engine's, and the naive slab loop's counts to the C slab walk's.

    PYTHONPATH=analyzers /usr/bin/python3 -m tests.bench.bench [--repeat N] [--only kdump|elf]
"""

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

NAIVE_PAGES = 200_000


def SLAB_VARIANTS(ncpu):
    """(reader, threads) of the C slab walks: drgn's reads, libhelper's own."""
    return [("drgn", 1)] + [("kdump", t) for t in sorted({1, 2, ncpu})]


def cases():
    from tests.bench.build_large import bench_root

    # The cases: kdump of a >= 16 GiB guest, ELF of a >= 8 GiB one; and the
    # same 16 GiB guest as RHEL's kdump writes it (LZO, -d 31).
    for mem, fmt in ((16384, "kdump"), (16384, "lzo"), (8192, "elf")):
        for meta in sorted((bench_root(mem) / "cases").glob("*/case.json")):
            rec = json.loads(meta.read_text())
            if fmt in rec["vmcores"]:
                yield mem, fmt, rec


# -- one measurement, in a child process -------------------------------------

def _digest(s) -> str:
    """Hash of the aggregates both engines must agree on."""
    parts = [sorted(s.by_owner.items()), sorted(s.folios_by_owner.items()),
             sorted(s.slab_objects.items()), s.slabs_with_vector, s.pages_scanned,
             sorted((o, sorted((m, tuple(c)) for m, c in maps.items()))
                    for o, maps in s.by_mapping.items()),
             sorted(s.mapping_class.items()),
             # libkdumpfile words its errors its own way: where and address
             # must match (as in tests/test_libhelper.py).
             [r[:2] for r in s.read_errors], sorted((w, a) for w, _, a in s.faults)]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _slab_list(prog):
    """Heads of the slabs with an object vector, as the Python engine
    finds them (untimed): (struct page address, vector address)."""
    from memcg_zombies.scan import memmap_ranges, python_engine

    found = []

    class Recorder(python_engine._Scanner):
        def _slab_vector(self, W, i, addr, vec):
            found.append((addr, vec))
            super()._slab_vector(W, i, addr, vec)

    rec = Recorder(prog, None)
    s = rec.run(memmap_ranges(prog))
    return found, s


def _naive_slab(prog, slabs):
    """memcg_slabinfo.py's loop on the given slabs: per slab its cache, object
    count and vector through drgn Objects, then one drgn read per object."""
    from drgn import Object, FaultError

    slab_t = prog.type("struct slab *")
    members = {m.name for m in slab_t.type.members if m.name}
    vec_member = "memcg_data" if "memcg_data" in members else "obj_exts"
    # obj_cgroup ** (v5.9-v6.9) or struct slabobj_ext * (v6.10+), objcg first
    ext = vec_member == "obj_exts"
    vec_t = prog.type("struct slabobj_ext *" if ext else "struct obj_cgroup **")
    counts = Counter()
    examined = 0
    for addr, vec in slabs:
        slab = Object(prog, slab_t, value=addr)
        try:
            cache = slab.slab_cache.value_()
            nobj = slab.objects.value_()
            v = Object(prog, vec_t, value=vec)
            for i in range(nobj):
                objcg = (v[i].objcg if ext else v[i]).value_()
                examined += 1
                if objcg:
                    counts[(objcg, cache)] += 1
        except FaultError:
            continue
    return counts, examined


def child(rec, fmt, what):
    import drgn

    from memcg_zombies import scan
    from memcg_zombies.layout import layout
    from memcg_zombies.scan import ScanOptions, python_engine

    path = rec["vmcores"][fmt]
    prog = drgn.Program()
    prog.set_core_dump(path)
    prog.load_debug_info([rec["vmlinux"]])
    ranges = scan.memmap_ranges(prog)
    npages = sum(h - l for l, h in ranges)
    lay = layout(prog)
    out = {"npages": npages, "nranges": len(ranges), "psize": lay.memmap.page_struct_size}

    if what == "naive":
        from drgn import Object

        page_t = prog.type("struct page *")
        memcg = lay.charge.page_memcg
        n = 0
        t = time.monotonic()
        for lo, hi in ranges:
            for pfn in range(lo, min(hi, lo + NAIVE_PAGES - n)):
                p = Object(prog, page_t, value=lay.memmap.vmemmap + pfn * lay.memmap.page_struct_size)
                try:
                    getattr(p, memcg).value_()
                    p.flags.value_()
                except drgn.FaultError:
                    pass
                n += 1
            if n >= NAIVE_PAGES:
                break
        out.update(seconds=time.monotonic() - t, units=n)
    elif what == "raw":
        per = python_engine.CHUNK_BYTES // lay.memmap.page_struct_size
        t = time.monotonic()
        for lo, hi in ranges:
            for pfn in range(lo, hi, per):
                try:
                    prog.read(lay.memmap.vmemmap + pfn * lay.memmap.page_struct_size,
                              (min(hi, pfn + per) - pfn) * lay.memmap.page_struct_size)
                except drgn.FaultError:
                    pass
        out.update(seconds=time.monotonic() - t, units=npages)
    elif what == "python":
        t = time.monotonic()
        s = scan.scan_pages(prog, None, ScanOptions(engine="python"))
        out.update(seconds=time.monotonic() - t, units=npages, digest=_digest(s))
    elif what.startswith("c:"):
        _, reader, threads = what.split(":")
        t = time.monotonic()
        s = scan.scan_pages(prog, None, ScanOptions(engine="c", reader=reader,
                                                    threads=int(threads), vmcore=path))
        out.update(seconds=time.monotonic() - t, units=npages, digest=_digest(s))
    elif what == "slab":
        slabs, py = _slab_list(prog)
        t = time.monotonic()
        naive, examined = _naive_slab(prog, slabs)
        naive_s = time.monotonic() - t
        # The C engine's slab walk over exactly these slabs: ranges of one
        # struct page each (its struct page, then its vector), with each
        # reader and thread count.
        pfns = [(a - lay.memmap.vmemmap) // lay.memmap.page_struct_size for a, _ in slabs]
        ranges = scan.packed_ranges((p, p + 1) for p in pfns)
        walks, same = {}, True
        for reader, threads in SLAB_VARIANTS(os.cpu_count() or 1):
            times = []
            for _ in range(5):
                t = time.monotonic()
                c = scan.scan_pages(prog, None, ScanOptions(engine="c", reader=reader,
                                                            threads=threads, vmcore=path),
                                    ranges)
                times.append(time.monotonic() - t)
            stats = c.reader_stats
            # The first walk opens the libkdumpfile readers; the next ones
            # reuse them, as a session's later scans do.
            walks[f"{reader}:{threads}"] = {"seconds": statistics.median(times),
                                            "first": times[0],
                                            "bytes_read": stats["bytes_read"]}
            same &= dict(naive) == c.slab_objects and c.slabs_with_vector == len(slabs)
        out.update(seconds=naive_s, walks=walks, units=examined, slabs=len(slabs),
                   charged=sum(naive.values()), naive_equals_c=same,
                   c_equals_full_scan=c.slab_objects == py.slab_objects)
    else:
        raise SystemExit(f"unknown measurement {what}")
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(out, sys.stdout)
    print()


def _busy_seconds():
    # CPU time spent by everything on the machine (/proc/stat, all CPUs).
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def wait_idle(max_wait):
    """Waits (up to max_wait seconds) until other processes use < 0.25 CPU."""
    deadline = time.monotonic() + max_wait
    while True:
        b0 = _busy_seconds()
        time.sleep(1)
        if _busy_seconds() - b0 < 0.25 or time.monotonic() > deadline:
            return


def run_child(rec, fmt, what, max_wait=0):
    if max_wait:
        wait_idle(max_wait)
    cmd = [sys.executable, "-m", "tests.bench.bench", "--child", json.dumps(rec), fmt, what]
    busy0, wall0 = _busy_seconds(), time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    # CPUs kept busy by other processes while this measurement ran: on a
    # 2-core machine, thread scaling means nothing unless this is ~0.
    mine = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    out["others"] = max(0.0, (_busy_seconds() - busy0 - mine) / (time.monotonic() - wall0))
    return out


# -- scale: a 100,000-zombie guest --------------------------------------------

SCALE = (4096, 100_000)  # guest MiB, bulk zombies (tests/bench/build_large.py)


def scale_case():
    from tests.bench.build_large import bench_root

    for meta in sorted((bench_root(SCALE[0]) / "cases").glob("*/case.json")):
        rec = json.loads(meta.read_text())
        if rec.get("bulk") == SCALE[1] and "kdump" in rec["vmcores"]:
            return rec
    return None


def scale(rec):
    """The whole CLI on the 100k-zombie vmcore, in a process of its own: time,
    peak RSS, and the dying set compared with the guest's by cgroup id."""
    cmd = [sys.executable, "-m", "memcg_zombies.cli", "-c", rec["vmcores"]["kdump"],
           "-s", rec["vmlinux"], "--format", "json"]
    with tempfile.TemporaryFile("w+") as out:
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out)
        # wait4: this child's own rusage (RUSAGE_CHILDREN would be the max
        # over every measurement so far).
        _, status, ru = os.wait4(p.pid, 0)
        seconds = time.monotonic() - t
        if status:
            raise SystemExit(f"scale run failed: status {status}")
        out.seek(0)
        stdout = out.read()
    rss = ru.ru_maxrss / 1024
    report = json.loads(stdout)
    truth = json.loads(open(rec["truth"]).read())
    want = {c["cgroup_id"] for c in truth["cgroups"].values() if c.get("dying")}
    # A memcg the guest could not decide (memory removed from a live cgroup's
    # subtree_control, before nr_dying_subsys): either way, as the tests say.
    undecided = {c["cgroup_id"] for c in truth["cgroups"].values()
                 if "dying" in c and c["dying"] is None}
    got = {m["cgroup_id"] for m in report["memcgs"] if m["state"] == "dying"} - undecided
    explained = sum(1 for z in report["zombies"] if z["unexplained_refs"] == 0)
    return {"seconds": seconds, "rss_mib": rss, "zombies": len(report["zombies"]),
            "dying_equal": got == want, "want": len(want), "explained": explained,
            "faults": len(report["faults"])}


# -- the table ----------------------------------------------------------------

def measure(rec, fmt, what, repeat, max_wait=0):
    runs = [run_child(rec, fmt, what, max_wait) for _ in range(repeat)]
    r = dict(runs[0])
    r["seconds"] = statistics.median(x["seconds"] for x in runs)
    r["rss_mib"] = max(x["rss_mib"] for x in runs)
    r["others"] = max(x["others"] for x in runs)
    for k in r.get("walks", {}):
        r["walks"][k] = dict(r["walks"][k], **{
            f: statistics.median(x["walks"][k][f] for x in runs) for f in ("seconds", "first")})
    r["rate"] = r["units"] / r["seconds"]
    digests = {x.get("digest") for x in runs}
    r["stable"] = len(digests) == 1
    return r


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("kdump", "lzo", "elf"))
    ap.add_argument("--wait-idle", type=float, default=5, metavar="SECONDS",
                    help="before each run, wait up to this long for other processes "
                         "to leave the CPUs idle (default 5; 0: do not wait)")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "FORMAT", "WHAT"))
    args = ap.parse_args(argv)
    if args.child:
        child(json.loads(args.child[0]), args.child[1], args.child[2])
        return 0

    ncpu = os.cpu_count() or 1
    ok = True
    print(f"# {ncpu} CPUs, load average {os.getloadavg()[0]:.2f} at start; medians of "
          f"{args.repeat} runs, each measurement in its own process", flush=True)
    for mem, fmt, rec in cases():
        if args.only and fmt != args.only:
            continue
        path = rec["vmcores"][fmt]
        rows = []
        variants = ["c:drgn:1"] + [f"c:kdump:{t}" for t in sorted({1, 2, ncpu})]
        res = {w: measure(rec, fmt, w, args.repeat, args.wait_idle)
               for w in ["naive", "raw", "python"] + variants}
        first = res["naive"]
        print(f"== {mem} MiB guest, {fmt}: {path} ({os.path.getsize(path) >> 20} MiB), "
              f"{first['npages']} struct pages, {first['nranges']} ranges", flush=True)
        naive, raw = res["naive"]["rate"], res["raw"]["rate"]
        kd1 = res["c:kdump:1"]["rate"]
        labels = {"naive": "naive drgn loop (sampled)", "raw": "raw memmap read via drgn",
                  "python": "python engine"}
        for w in ["naive", "raw", "python"] + variants:
            r = res[w]
            label = labels.get(w)
            note = ""
            if label is None:
                _, reader, threads = w.split(":")
                label = f"C engine, {reader} reader, {threads} thread(s)"
                if r.get("digest") != res["python"].get("digest") or not r["stable"]:
                    label += " (DIFFERS!)"
                    ok = False
                if reader == "kdump" and threads != "1":
                    note = f"{r['rate'] / kd1:.2f}x 1 thread"
            rows.append((label, r["rate"], r["rss_mib"], r["others"], note))
        print(f"  {'what':44} {'pages/s':>12} {'x naive':>8} {'x raw':>6} {'peak RSS':>9} "
              f"{'others':>6}")
        for label, rate, rss, others, note in rows:
            print(f"  {label:44} {rate:12,.0f} {rate / naive:8.1f} {rate / raw:6.2f} "
                  f"{rss:5.0f} MiB {others:6.2f}  {note}")
        s = measure(rec, fmt, "slab", args.repeat, args.wait_idle)
        same = s["naive_equals_c"] and s["c_equals_full_scan"]
        ok &= same
        naive_obj = s["units"] / s["seconds"]
        print(f"  slab attribution: {s['slabs']} slabs with an objcg vector, {s['units']} "
              f"objects examined ({s['units'] / max(1, s['slabs']):.1f} per slab), "
              f"{s['charged']} charged; counts {'equal' if same else 'DIFFER!'} "
              f"(naive == every C walk == full scan)")
        print("    per-object phase, given the slabs (memcg_slabinfo.py's loop: one drgn "
              "read per object):")
        print(f"      {'what':42} {'objects/s':>12} {'x naive':>8} {'floor':>8}")
        print(f"      {'naive drgn loop':42} {naive_obj:12,.0f} {1:8.1f}")
        for key, wk in s["walks"].items():
            reader, threads = key.split(":")
            # What the walk had to read, at drgn's raw read rate (the raw
            # row): on compressed input, the time decompression alone takes.
            floor = wk["bytes_read"] / (raw * first["psize"]) if fmt != "elf" else 0
            rate = s["units"] / wk["seconds"]
            print(f"      {'C slab walk, ' + reader + ' reader, ' + threads + ' thread(s)':42} "
                  f"{rate:12,.0f} {rate / naive_obj:8.1f} "
                  + (f"{floor * 1e3:6.1f}ms  (reads {wk['bytes_read'] >> 12} pages; walk "
                     f"{wk['seconds'] * 1e3:.1f} ms, first {wk['first'] * 1e3:.1f} ms)"
                     if floor else
                     f"{'':8}  (walk {wk['seconds'] * 1e3:.1f} ms, first "
                     f"{wk['first'] * 1e3:.1f} ms)"))
        # memcg_slabinfo.py end to end: it finds the slabs with for_each_page
        # (the naive page rate) before reading objects; the C engine counts
        # slab objects inside its one page scan.
        naive_total = first["npages"] / naive + s["seconds"]
        best_c = min(res[w]["seconds"] for w in variants)
        print(f"    end to end (find slabs + attribute): naive {naive_total:.1f} s "
              f"(page walk extrapolated from the sampled rate) = "
              f"{s['units'] / naive_total:,.0f} obj/s, C whole scan {best_c:.2f} s = "
              f"{s['units'] / best_c:,.0f} obj/s = {naive_total / best_c:.0f}x "
              f"(peak RSS {s['rss_mib']:.0f} MiB)", flush=True)
        assert same, "naive and C slab attribution differ"
    rec = scale_case()
    if rec and not args.only:
        wait_idle(args.wait_idle)
        r = scale(rec)
        ok &= r["dying_equal"]
        print(f"== scale: {SCALE[1]:,}-zombie {SCALE[0]} MiB guest, kdump "
              f"({os.path.getsize(rec['vmcores']['kdump']) >> 20} MiB): the whole CLI "
              f"(--format json) in {r['seconds']:.0f} s ({r['zombies'] / r['seconds']:,.0f} "
              f"zombies/s), peak RSS {r['rss_mib']:.0f} MiB; {r['zombies']:,} zombies, dying set "
              f"{'equals' if r['dying_equal'] else 'DIFFERS from'} the guest's ({r['want']:,} "
              f"cgroup ids), {r['explained']:,} with every css ref explained, "
              f"{r['faults']} faults", flush=True)
    print("# peak RSS: getrusage(RUSAGE_SELF).ru_maxrss of the process that ran the "
          "measurement (open + debug info + one analysis), max over runs; others: CPUs "
          "busy with other processes meanwhile (max over runs)")
    print(f"# load average {os.getloadavg()[0]:.2f} at end")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
