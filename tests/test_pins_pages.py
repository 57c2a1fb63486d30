"""Page and slab pinners (pinners/pages.py, pinners/slab.py, scan.py) against real
vmcores and the guest's ground truth. Each vmcore is opened and scanned once per
session (module-level cache)."""

import pytest

from drgn import FaultError, Object

from memcg_zombies.cgroups import for_each_memcg, memcg_path, memcg_state
from memcg_zombies.cli import open_program
from memcg_zombies.layout import layout
from memcg_zombies.pinners import Context
from memcg_zombies.pinners import pages as pages_pinner
from memcg_zombies.pinners import slab as slab_pinner
from memcg_zombies.report import ReparentablePin
from tests.conftest import truth_of
from tests.expect import FILTERED, filtered_drops_pages, kver

PAGE = 4096
#: Kernels whose page-cache zombies still exist (before v7.1's LRU reparenting).
#: Mount points in the guest -> the filesystem the kernel names.
MOUNTS = {"/mnt/shm": "tmpfs", "/mnt/disk": "ext4"}
#: Before v5.13 (rstat) memory.stat is per-CPU batched: each CPU may hold up
#: to MEMCG_CHARGE_BATCH (32) pages not yet folded in. With rstat and the
#: flush memory.stat does it is exact; the pages are then compared exactly,
#: except for what the guest did between reading memory.stat and rmdir.
BATCH = 32

_RUNS = {}


class Run:
    """One vmcore: program, memcgs by path, and what the two visitors found."""

    def __init__(self, vmcore, vmlinux):
        self.prog = open_program(vmcore, vmlinux)
        self.faults = []
        self.memcgs = {m.value_(): m for m in for_each_memcg(self.prog, self.faults)}
        self.paths = {}
        for addr, m in self.memcgs.items():
            try:
                self.paths[addr] = memcg_path(m)
            except (FaultError, ValueError):  # an unreadable path must not hide the rest
                self.paths[addr] = None
        self.zombies = {a: m for a, m in self.memcgs.items() if self._state(m) == "dying"}
        self.ctx = Context(self.prog, self.zombies, self.memcgs, self.faults)
        self.pins = {}
        for visit in (pages_pinner.visit, slab_pinner.visit):
            for addr, pin in visit(self.ctx):
                self.pins.setdefault(self.paths[addr], []).append(pin)
        self.scan = pages_pinner.page_scan(self.ctx)

    @staticmethod
    def _state(memcg):
        try:
            return memcg_state(memcg)
        except FaultError:  # filtered dumps lose some memcgs
            return None

    def addr_of(self, path):
        return next(a for a, p in self.paths.items() if p == path)

    def cpus(self):
        return self.prog["nr_cpu_ids"].value_()


def run_of(case, fmt="kdump"):
    key = case["vmcores"][fmt]
    if key not in _RUNS:
        _RUNS[key] = Run(key, case["vmlinux"])
    return _RUNS[key]


def fs_path(truth_path):
    for mount, fs in MOUNTS.items():
        if truth_path.startswith(mount + "/"):
            return truth_path[len(mount):], fs
    raise ValueError(truth_path)


def file_pins(run, path, kinds=("pagecache", "shmem")):
    return {p.file.path if p.file else None: p for p in run.pins.get(path, []) if p.kind in kinds}


def test_layout_page_facts(case):
    lay = layout(run_of(case).prog)
    k = case["kernel"]
    assert lay.charge.page_memcg == ("mem_cgroup" if k == "5.10" else "memcg_data")
    assert lay.charge.kmem_memcg_is_objcg == (k != "5.10")
    v = kver(case)
    assert lay.charge.folio_memcg_is_objcg == (v >= (7, 1))
    assert lay.charge.lru_css_ref_unit == (None if v >= (7, 1) else "folio")
    assert lay.charge.kmem_css_refs_per_page == (1 if k == "5.10" else 0)
    assert lay.charge.slab_css_refs_per_object == 0
    assert lay.charge.slab_struct == ("page" if k == "5.10" else "slab")
    assert lay.charge.slab_vector == {"5.10": "obj_cgroups", "6.1": "memcg_data"}.get(k, "obj_exts")
    assert (lay.pages.stride_off is not None) == ((7, 0) <= v < (7, 3))
    # v7.3: per-slab obj_exts_in_object / obj_exts_needs_objcg bits replace it.
    assert (lay.pages.needs_objcg_bit is not None) == (v >= (7, 3))
    assert (lay.pages.in_object_bit is not None) == (v >= (7, 3))
    assert lay.charge.page_type_encoding == ("inverted" if k in ("5.10", "6.1") else "top_byte")
    assert (lay.pages.PG_slab == 0) == (v >= (6, 10))
    assert lay.charge.compound_member == ("compound_info" if v >= (7, 1) else "compound_head")
    assert lay.pages.info_mask == (v >= (7, 1))
    for flag in ("PG_lru", "PG_head", "PG_dirty", "PG_writeback", "PG_swapbacked",
                 "PG_swapcache"):
        assert lay.charge.PG[flag] == run_of(case).prog[flag].value_()
    assert set(lay.facts()) >= {"page_memcg", "lru_css_ref_unit", "slab_vector"}


def test_scan_totals(case):
    run = run_of(case)
    scan = run.scan
    assert not scan.read_errors and not scan.faults
    max_pfn = run.prog["max_pfn"].value_()
    assert max_pfn * 0.9 <= scan.pages_scanned <= max_pfn
    # Every scanned page is counted in exactly one (owner, class).
    assert sum(scan.by_owner.values()) == scan.pages_scanned
    assert scan.slabs_with_vector > 0 and scan.slab_objects


@pytest.mark.parametrize("scen,file_kind", [("tmpfs", "shmem"), ("ext4", "pagecache")])
def test_page_cache_per_file(case, scen, file_kind):
    if kver(case) >= (7, 1):
        pytest.skip("v7.1+: LRU folios are reparented, see test_71_*")
    run, truth = run_of(case), truth_of(case)
    path = f"/mz/{scen}/leaf"
    cg = truth["cgroups"][path]
    assert cg["dying"] and run.addr_of(path) in run.zombies
    pins = file_pins(run, path)
    for f in cg["files"]:
        name, fs = fs_path(f["path"])
        pin = pins[name]
        assert pin.kind == file_kind
        # Named from the root mount namespace, as the guest named it.
        assert pin.what == f"{f['path']} ({fs})"
        assert pin.file.full_path == f["path"]
        assert pin.file.fs == fs
        assert pin.count == f["bytes"] // PAGE
        assert pin.bytes == f["bytes"]
        # One css reference per folio (v5.9..v7.0); small files, order-0 folios.
        assert pin.css_refs == pin.folios == pin.count
        assert pin.reparented is None
    stat = cg["memory_stat"]
    total = sum(p.count for p in pins.values())
    slack = BATCH * run.cpus() if case["kernel"] == "5.10" else 0
    assert abs(total - stat["file"] // PAGE) <= slack
    if scen == "ext4":
        assert pins["/ext4/clean.bin"].dirty == 0
        dirty = pins["/ext4/dirty.bin"].dirty
        assert dirty == 256
        assert abs(dirty - stat["file_dirty"] // PAGE) <= slack
        assert pins["/ext4/dirty.bin"].writeback == stat["file_writeback"] // PAGE


def test_anon(case):
    run, truth = run_of(case), truth_of(case)
    cg = truth["cgroups"]["/mz/anon/leaf"]
    if not cg["dying"]:  # v7.1+: reparented LRU, freed
        assert "/mz/anon/leaf" not in {run.paths[a] for a in run.zombies}
        return
    (pin,) = [p for p in run.pins["/mz/anon/leaf"] if p.kind == "anon"]
    # memory.stat was read with the process still in the cgroup; the pages
    # stay charged after it moved out. 5.10's batched stats may lag by up to
    # 32 pages per CPU; later kernels flush exactly.
    slack = BATCH * run.cpus() if case["kernel"] == "5.10" else 2
    assert abs(pin.count - cg["memory_stat"]["anon"] // PAGE) <= slack
    assert pin.css_refs == pin.folios


def test_bulk_zombies_one_shmem_page(case):
    run, truth = run_of(case), truth_of(case)
    bulk = {p: c for p, c in truth["cgroups"].items() if p.startswith("/mz/bulk/")}
    dying = [p for p, c in bulk.items() if c.get("dying")]
    if kver(case) >= (7, 1):
        assert not dying
        return
    assert len(dying) == len(bulk) == case["bulk"]
    for path in dying:
        (f,) = truth["cgroups"][path]["files"]
        name, fs = fs_path(f["path"])
        pins = [p for p in run.pins[path] if p.kind in ("shmem", "pagecache", "anon", "kmem")]
        assert [(p.kind, p.what, p.count) for p in pins] == [("shmem", f"{f['path']} ({fs})", 1)]


def test_children_parent_has_no_pages(case):
    run, truth = run_of(case), truth_of(case)
    path = "/mz/children/parent"
    if not truth["cgroups"][path]["dying"]:
        return
    assert run.addr_of(path) in run.zombies
    kinds = {"pagecache", "shmem", "anon", "swapcache", "kmem"}
    assert not [p for p in run.pins.get(path, []) if p.kind in kinds and p.reparented is None]
    assert path + "/child" in run.pins


def test_pins_css_refs_by_era(case):
    run = run_of(case)
    lay = run.ctx.layout
    for path, pins in run.pins.items():
        for p in pins:
            if p.kind == "slab" or isinstance(p, ReparentablePin) and p.reparented is not None:
                assert p.css_refs == 0, (path, p)
            elif p.kind == "kmem":
                assert p.css_refs == p.count * lay.charge.kmem_css_refs_per_page
            elif lay.charge.lru_css_ref_unit is None:
                assert p.css_refs == 0


def test_slab_objects_reparented(case):
    # v5.10+ reparents objcgs at offline: no zombie is held by live slab
    # objects; with orig_objcg (v6.8+) they are reported, marked not pinning.
    run = run_of(case)
    for path, pins in run.pins.items():
        for p in pins:
            if p.kind == "slab":
                assert p.reparented is not None and p.bytes == 0, (path, p)
                assert p.count > 0 and p.object_size > 0
    if kver(case) >= (6, 8):  # orig_objcg
        buffer_heads = [p for p in run.pins["/mz/ext4/leaf"] if p.what == "buffer_head [reparented]"]
        # 768 pages of 4 KiB blocks: one buffer_head each, plus some.
        assert buffer_heads and buffer_heads[0].count >= 768


def test_71_page_cache_freed_and_objcg_owned(case):
    if kver(case) < (7, 1):
        pytest.skip("before v7.1")
    run, truth = run_of(case), truth_of(case)
    # The tmpfs zombie was freed: its folios point at its objcg, now the parent's.
    assert truth["cgroups"]["/mz/tmpfs/leaf"]["dying"] is False
    assert "/mz/tmpfs/leaf" not in run.paths.values()
    parent = run.addr_of("/mz/tmpfs")
    owners = [o for (o, cls), n in run.scan.by_owner.items() if cls == "shmem" and n == 1024]
    assert owners
    objcg = owners[0]
    assert objcg not in run.memcgs
    assert Object(run.prog, "struct obj_cgroup *", objcg).memcg.value_() == parent
    # ext4/leaf is still dying (not for its pages): they are reported as
    # charged to it originally, reparented, pinning nothing.
    if truth["cgroups"]["/mz/ext4/leaf"]["dying"]:
        pins = file_pins(run, "/mz/ext4/leaf")
        assert pins["/ext4/clean.bin"].count == 512 and pins["/ext4/dirty.bin"].count == 256
        for p in pins.values():
            assert p.reparented is not None and p.css_refs == 0 and p.bytes == 0
            assert p.charged_via == "objcg"


def test_formats_agree(case):
    kdump, elf = run_of(case, "kdump").scan, run_of(case, "elf").scan
    assert kdump.by_owner == elf.by_owner
    assert kdump.folios_by_owner == elf.folios_by_owner
    assert kdump.by_mapping == elf.by_mapping
    assert kdump.slab_objects == elf.slab_objects
    assert kdump.pages_scanned == elf.pages_scanned


@pytest.mark.parametrize("fmt", FILTERED)
def test_filtered_dump_survives(case, fmt):
    # makedumpfile -d 31 drops pages; with some makedumpfile on some kernels slab
    # object vectors or compound tails among them. The scan must report that and go on.
    if fmt not in case["vmcores"]:
        pytest.skip(f"no {fmt} dump: {case.get('errors')}")
    run = run_of(case, fmt)
    scan = run.scan
    assert scan is not None and scan.pages_scanned > 0
    if filtered_drops_pages(case, fmt):
        assert scan.faults or scan.read_errors
        assert run.faults
    else:
        # Nothing the scan reads (memmap, slab object vectors) is excluded at -d 31.
        assert not scan.faults and not scan.read_errors, (scan.faults[:3], scan.read_errors[:3])
    for where, error, _ in scan.faults:
        assert "could not read" in error or "Excluded" in error
