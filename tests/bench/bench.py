"""`make bench`: page-scan speed on large test-bed guests (one run each).

Prints, per vmcore: the naive drgn loop (sampled), the raw memmap read rate
through drgn (the limit), scan.py's Python engine, the C engine with each
reader and thread count, slab attribution naive (one drgn read per object,
sampled) vs C, and peak RSS. Cases come from tests/bench/build_large.py.
"""

import json
import os
import resource
import sys
import time

import drgn
from drgn import Object

from memcg_zombies import scan
from tests.bench.build_large import bench_root

NAIVE_PAGES = 200_000
NAIVE_OBJECTS = 20_000


def cases():
    for mem, fmt in ((16384, "kdump"), (8192, "elf"), (8192, "kdump")):
        for meta in sorted((bench_root(mem) / "cases").glob("*/case.json")):
            rec = json.loads(meta.read_text())
            if fmt in rec["vmcores"]:
                yield mem, fmt, rec


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    for mem, fmt, rec in cases():
        path = rec["vmcores"][fmt]
        prog = drgn.Program()
        prog.set_core_dump(path)
        prog.load_debug_info([rec["vmlinux"]])
        ranges = scan.memmap_ranges(prog)
        npages = sum(h - l for l, h in ranges)
        lay = scan.layout(prog)
        print(f"== {mem} MiB guest, {fmt}: {path} ({os.path.getsize(path) >> 20} MiB), "
              f"{npages} struct pages, {len(ranges)} ranges", flush=True)
        rows = []

        # naive: one drgn Object per page, memcg_data + flags (sampled)
        t = time.monotonic()
        page_t = prog.type("struct page *")
        memcg = lay.page_memcg
        n = 0
        for lo, hi in ranges:
            for pfn in range(lo, min(hi, lo + NAIVE_PAGES - n)):
                p = Object(prog, page_t, lay.vmemmap + pfn * lay.page_size)
                try:
                    getattr(p, memcg).value_()
                    p.flags.value_()
                except drgn.FaultError:
                    pass
                n += 1
            if n >= NAIVE_PAGES:
                break
        naive = n / (time.monotonic() - t)
        rows.append(("naive drgn loop (sampled)", naive))

        # raw read through drgn, 1 MiB chunks, unparsed
        t = time.monotonic()
        per = scan.CHUNK_BYTES // lay.page_size
        for lo, hi in ranges:
            for pfn in range(lo, hi, per):
                try:
                    prog.read(lay.vmemmap + pfn * lay.page_size, (min(hi, pfn + per) - pfn) * lay.page_size)
                except drgn.FaultError:
                    pass
        raw = npages / (time.monotonic() - t)
        rows.append(("raw memmap read via drgn", raw))

        t = time.monotonic()
        py = scan.scan_pages(prog, None, engine="python")
        rows.append(("python engine", npages / (time.monotonic() - t)))
        c_times = {}
        variants = [("drgn", 1)]
        if fmt == "kdump":
            variants += [("kdump", 1), ("kdump", 2)]
        else:
            variants += [("kdump", 1), ("kdump", 2)]
        for reader, threads in variants:
            t = time.monotonic()
            c = scan.ENGINES["c"](prog, None, reader=reader, threads=threads, vmcore=path)
            dt = time.monotonic() - t
            c_times[(reader, threads)] = dt
            same = c.by_owner == py.by_owner and c.slab_objects == py.slab_objects
            rows.append((f"C engine, {reader} reader, {threads} thread(s)"
                         f"{'' if same else ' (DIFFERS!)'}", npages / dt))

        # slab attribution: naive per-object drgn reads (sampled) vs C
        objs = sum(py.slab_objects.values())
        vec_t = prog.type("struct obj_cgroup *")
        t = time.monotonic()
        k = 0
        for pfn_lo, pfn_hi in ranges:
            pass
        # naive: the kernel's memcg_slabinfo.py way, one object read per object
        sample = list(py.slab_objects.items())[:1]
        addr0 = lay.vmemmap
        for i in range(NAIVE_OBJECTS):
            try:
                Object(prog, vec_t, address=addr0 + 8 * i).value_()
            except drgn.FaultError:
                pass
            k += 1
        naive_obj = k / (time.monotonic() - t)
        best_c = min(c_times.values())
        c_obj = objs / best_c

        print(f"  {'what':48} {'pages/s':>14} {'x naive':>9} {'x raw':>7}")
        for what, rate in rows:
            print(f"  {what:48} {rate:14,.0f} {rate / naive:9.1f} {rate / raw:7.2f}")
        print(f"  slab objects: {objs} in {py.slabs_with_vector} slabs; naive per-object "
              f"{naive_obj:,.0f} obj/s, C (whole scan incl. pages) {c_obj:,.0f} obj/s = "
              f"{c_obj / naive_obj:.0f}x")
        print(f"  peak RSS so far {rss_mib():.0f} MiB", flush=True)
        del prog, py
    return 0


if __name__ == "__main__":
    sys.exit(main())
