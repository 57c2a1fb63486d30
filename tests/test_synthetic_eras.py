"""
Synthetic tests of the kernel eras without a real test kernel (4.9, 4.19, 5.4).

No real 4.x-5.8 kernel package is available here, so these programs are
SYNTHETIC: types and memory are built through drgn's API
(:mod:`tests.synthetic`), with the layouts of docs/kernel-eras.md sections 3-6, and the
analysis runs through the public API (``analysis.analyze``). They cover
``page->mem_cgroup`` decoding, slab pages holding css refs (era A), per-memcg
kmem caches (eras A and B) and v5.3's cache reparenting (era B), the 4.9
page_counter ``count``, atomic_t ``memcg->id.ref``, the pre-v4.11 IDR and the
missing CSS_DYING. Every test name says "synthetic".
"""

import pytest

drgn = pytest.importorskip("drgn")

from memcg_zombies import scan as scan_mod  # noqa: E402
from memcg_zombies.scan import ScanOptions  # noqa: E402
from memcg_zombies.analysis import analyze  # noqa: E402
from memcg_zombies.layout import layout  # noqa: E402
from memcg_zombies.render import render_json, render_text  # noqa: E402
from memcg_zombies.report import CacheRefcnt, PageCounter, Reparented, Stat  # noqa: E402
from memcg_zombies.state import memcg_id_info, memcg_state_info  # noqa: E402
from tests.synthetic.kernels import (  # noqa: E402
    BIAS,
    CSS_DYING,
    CSS_NO_REF,
    CSS_ONLINE,
    PAGE_SIZE,
    PERCPU_REF_ATOMIC,
    PERCPU_REF_DEAD,
    SyntheticKernel,
)

KILLED = PERCPU_REF_ATOMIC | PERCPU_REF_DEAD
SCANNERS = ["python"] + (["c"] if "c" in scan_mod.engines() else [])


def _zombie(report, path):
    found = [z for z in report.zombies if z.entry.path == path]
    assert len(found) == 1, [z.entry.path for z in report.zombies]
    return found[0]


def _pins(z, kind):
    return [p for p in z.pins if p.kind == kind]


def _verdict(z, mechanism):
    return next(v for v in z.reparenting if v.mechanism == mechanism)


def _no_faults(report):
    assert report.faults == [], report.faults


# -- era A: 4.19 -------------------------------------------------------------------


def era_a_4_19():
    """Synthetic 4.19: page_type PG_kmemcg, slab pages naming the memcg, caches only
    deactivated at offline."""
    k = SyntheticKernel("4.19")
    a = {}
    a["root"] = root = k.memcg(None, "", serial=1, flags=CSS_NO_REF | CSS_ONLINE)
    a["online"] = online = k.memcg(root, "online", serial=5, flags=CSS_ONLINE,
                                   refcnt=(BIAS + 1, 0), kmemcg_id=0, kmem_state=2)
    # Offline: CSS_DYING, css ref killed; memcg_offline_kmem() gave it the
    # parent's kmemcg_id (-1 for root) and KMEM_ALLOCATED.
    a["zombie"] = z = k.memcg(root, "zombie", serial=7, flags=CSS_DYING,
                              refcnt=(8, KILLED), kmemcg_id=-1, kmem_state=1, usage=8)
    dentry = k.root_cache("dentry", 192)
    kmalloc = k.root_cache("kmalloc-64", 64)
    a["online_cache"] = k.child_cache(dentry, online, serial=5, cgroup="online", in_array=0)
    # Deactivated (not in the root's memcg_caches array), still charging z.
    a["zc1"] = zc1 = k.child_cache(dentry, z, serial=7, cgroup="zombie")
    a["zc2"] = k.child_cache(kmalloc, z, serial=7, cgroup="zombie")
    log = k.file("/data/log.txt")
    for i in range(4):
        k.page(flags=["PG_lru", "PG_uptodate"] + (["PG_dirty"] if i == 0 else []),
               mapping=log, memcg=z)
    for _ in range(3):
        k.page(flags=["PG_slab"], slab_cache=zc1, memcg=z)
    k.page(mapcount=k.kmem_page_mapcount(), memcg=z)  # e.g. a vmalloc'd stack page
    k.page(flags=["PG_lru", "PG_swapbacked"], mapping=k.b.alloc(64) | 1, memcg=online)
    k.page(mapcount=-129, refcount=0)  # buddy: PG_buddy 0x80 cleared
    # memory.stat NR_FILE_PAGES: atomic 3 plus a per-CPU batch of 1 on CPU 0.
    k.stat(z, k.prog["NR_FILE_PAGES"].value_(), 3, [1, 0])
    return k, a


@pytest.mark.parametrize("scanner", SCANNERS)
def test_synthetic_4_19_page_mem_cgroup_and_caches(scanner):
    """Synthetic 4.19: LRU, slab and kmem pages name the zombie in page->mem_cgroup,
    one css ref per page; its caches are pinned but hold no css ref."""
    k, a = era_a_4_19()
    lay = layout(k.prog)
    assert lay.charge.page_memcg == "mem_cgroup"
    assert lay.charge.page_type_encoding == "inverted" and lay.charge.page_types["kmemcg"] == 0x200
    assert lay.charge.lru_css_ref_unit == "page" and lay.charge.kmem_css_refs_per_page == 1
    assert lay.charge.slab_page_names_memcg and lay.charge.slab_css_refs_per_page == 1
    assert lay.charge.kmem_cache_css_refs == 0 and lay.reparent.memcg_params
    assert lay.reparent.objcg is None and lay.state.vmstats == "atomic_stat"

    report = analyze(k.prog, scan=ScanOptions(engine=scanner))
    _no_faults(report)
    assert report.kernel.release == "4.19.0-synthetic"
    assert report.kernel.hierarchy == "cgroup2"
    assert [(m.path, m.state) for m in report.memcgs] == [
        ("/", "online"), ("/online", "online"), ("/zombie", "dying")]
    assert report.summary.dying == 1

    z = _zombie(report, "/zombie")
    assert z.entry.address == a["zombie"]
    assert z.entry.cgroup_id == 107 and z.entry.refcnt == 8 and z.entry.refcnt_dead
    (pc,) = _pins(z, "pagecache")
    assert (pc.what, pc.count, pc.css_refs) == ("/data/log.txt (ext4)", 4, 4)
    assert pc.dirty == 1
    (slab,) = _pins(z, "slab")
    assert (slab.count, slab.unit, slab.css_refs) == (3, "pages", 3)
    assert slab.bytes == 3 * PAGE_SIZE
    (kmem,) = _pins(z, "kmem")
    assert (kmem.count, kmem.css_refs) == (1, 1)
    caches = {p.what: p for p in _pins(z, "kmem_cache")}
    assert set(caches) == {"dentry(7:zombie)", "kmalloc-64(7:zombie)"}
    for p in caches.values():
        assert p.css_refs == 0 and p.deactivated is True
        assert p.memcg == hex(a["zombie"])
    assert caches["dentry(7:zombie)"].cache == hex(a["zc1"])
    # Every css ref explained: 4 LRU + 3 slab + 1 kmem pages.
    assert (z.explained_refs, z.unexplained_refs) == (8, 0)
    assert z.verdict.startswith("held by 4 page-cache pages of /data/log.txt (ext4), "
                                "3 slab pages of per-memcg caches")
    assert z.pinned_bytes == 8 * PAGE_SIZE

    v = _verdict(z, "kmem_caches")
    assert v.verdict == "not reparented"
    assert v.evidence["own_caches"] == 2 and v.evidence["serial_nr"] == 7
    assert v.evidence["caches_listed"] == [hex(a["zc1"]), hex(a["zc2"])]
    assert v.evidence["kmem_state"] == 1
    assert _verdict(z, "objcg").verdict == "not in this kernel"

    assert z.state is not None
    assert z.state.css_refcnt == 8 and z.state.css_refcnt_mode == "atomic"
    assert z.state.counters["memory"].usage == 8
    assert z.state.stats["NR_FILE_PAGES"] == Stat(4, 3, "pages", 4 * PAGE_SIZE)
    assert z.state.frozen is not None and "NR_SLAB_UNRECLAIMABLE" in z.state.frozen.live
    # The online memcg's cache is not the zombie's business.
    assert all(a["online"] != int(p.detail.get("memcg", "0"), 16) for p in z.pins)
    assert "/zombie" in render_text(report)
    assert '"kmem_cache"' in render_json(report)


# -- era B: 5.4 --------------------------------------------------------------------


def era_b_5_4():
    """Synthetic 5.4: caches with memcg_params.refcnt, reparented at offline (5.3)."""
    k = SyntheticKernel("5.4")
    a = {}
    a["root"] = root = k.memcg(None, "", serial=1, flags=CSS_NO_REF | CSS_ONLINE)
    a["parent"] = parent = k.memcg(root, "parent", serial=3, flags=CSS_ONLINE,
                                   refcnt=(BIAS + 1, 0), kmemcg_id=0, kmem_state=2)
    a["other"] = other = k.memcg(parent, "other", serial=13, flags=CSS_ONLINE,
                                 refcnt=(BIAS + 1, 0), kmemcg_id=1, kmem_state=2)
    # /parent/job: offline, its caches reparented to /parent. Its css refs:
    # 5 LRU pages and 1 kmem page; the moved cache holds a ref on /parent.
    a["job"] = job = k.memcg(parent, "job", serial=12, flags=CSS_DYING, refcnt=(6, KILLED),
                             kmemcg_id=0, kmem_state=1)
    # /parent/stuck: a zombie whose cache still names it (not a state a
    # finished 5.4 offline leaves; it exercises the cache's own css ref and a
    # per-CPU memcg_params.refcnt).
    a["stuck"] = stuck = k.memcg(parent, "stuck", serial=14, flags=CSS_DYING,
                                 refcnt=(1, KILLED), kmemcg_id=0, kmem_state=1)
    dentry = k.root_cache("dentry", 192)
    a["other_cache"] = k.child_cache(dentry, other, serial=13, cgroup="other", in_array=1)
    # memcg_deactivate_kmem_caches(job, parent): memcg_params.memcg = parent,
    # on parent->kmem_caches, refcnt killed; 2 slab pages still hold it.
    a["job_cache"] = jc = k.child_cache(dentry, job, serial=12, cgroup="job", charged=parent,
                                        refcnt=(2, KILLED))
    # Still active: percpu mode, the initial ref + 3 slab pages (2 + 1 per CPU).
    a["stuck_cache"] = k.child_cache(dentry, stuck, serial=14, cgroup="stuck",
                                     refcnt=(BIAS + 1, 0), percpu=[2, 1])
    db = k.file("/srv/cache.db", fs="xfs", ino=77)
    for _ in range(5):
        k.page(flags=["PG_lru"], mapping=db, memcg=job)
    k.page(mapcount=k.kmem_page_mapcount(), memcg=job)
    for _ in range(2):  # v5.3+: slab pages no longer name a memcg
        k.page(flags=["PG_slab"], slab_cache=jc)
    k.stat(job, k.prog["NR_FILE_PAGES"].value_(), 4, [0, 1])
    return k, a


@pytest.mark.parametrize("scanner", SCANNERS)
def test_synthetic_5_4_reparented_kmem_caches(scanner):
    """Synthetic 5.4: the zombie's cache was moved to its parent (v5.3 reparenting):
    verdict "reparented" with evidence; its refs are its pages', not the cache's."""
    k, a = era_b_5_4()
    lay = layout(k.prog)
    assert lay.charge.page_memcg == "mem_cgroup" and not lay.charge.slab_page_names_memcg
    assert lay.charge.slab_css_refs_per_page == 0 and lay.charge.kmem_cache_css_refs == 1
    assert lay.refs.memcg_id_ref == "refcount_t" and lay.state.vmstats == "atomic"

    report = analyze(k.prog, scan=ScanOptions(engine=scanner))
    _no_faults(report)
    assert [(m.path, m.state) for m in report.memcgs] == [
        ("/", "online"), ("/parent", "online"), ("/parent/other", "online"),
        ("/parent/job", "dying"), ("/parent/stuck", "dying")]

    job = _zombie(report, "/parent/job")
    (pc,) = _pins(job, "pagecache")
    assert (pc.what, pc.count, pc.css_refs) == ("/srv/cache.db (xfs)", 5, 5)
    (kmem,) = _pins(job, "kmem")
    assert kmem.css_refs == 1
    assert _pins(job, "slab") == []  # slab pages name no memcg since v5.3
    (cache,) = _pins(job, "kmem_cache")
    assert cache.what == "dentry(12:job) [reparented]"
    assert cache.css_refs == 0 and cache.bytes == 0
    assert cache.reparented == Reparented(hex(a["parent"]), 2 * PAGE_SIZE)
    assert cache.refcnt == CacheRefcnt(2, True, 2) and cache.deactivated is True
    assert cache.detail["pins"] is False and cache.detail["slab_bytes"] == 2 * PAGE_SIZE
    assert (job.explained_refs, job.unexplained_refs) == (6, 0)
    assert "kmem cache" not in job.verdict

    v = _verdict(job, "kmem_caches")
    assert v.verdict == "reparented"
    ev = v.evidence
    assert ev["own_caches"] == 0 and ev["serial_nr"] == 12
    assert ev["ancestor"] == hex(a["parent"])
    assert ev["caches_on_ancestor"] == 1
    assert ev["caches_on_ancestor_listed"] == [hex(a["job_cache"])]
    assert ev["pointing_to_ancestor"] == 1 and ev["refcnt_dead"] == 1
    assert job.state is not None
    assert job.state.stats["NR_FILE_PAGES"].value == 5
    assert job.state.stats["NR_FILE_PAGES"].flushed == 4

    stuck = _zombie(report, "/parent/stuck")
    (cache,) = _pins(stuck, "kmem_cache")
    assert cache.what == "dentry(14:stuck)" and cache.css_refs == 1
    assert cache.refcnt == CacheRefcnt(4, False, 3)
    assert cache.reparented is None and cache.bytes == 3 * PAGE_SIZE
    assert (stuck.explained_refs, stuck.unexplained_refs) == (1, 0)
    assert stuck.verdict == "held by kmem cache dentry(14:stuck)"
    v = _verdict(stuck, "kmem_caches")
    assert v.verdict == "not reparented" and v.evidence["own_caches"] == 1


# -- 4.9 -------------------------------------------------------------------------------


def era_4_9():
    """Synthetic 4.9: page_counter count/limit, memcg->id with atomic_t ref, no
    CSS_DYING, _mapcount -512 kmem pages, the idr_layer IDR, kernfs ino."""
    k = SyntheticKernel("4.9")
    a = {}
    a["root"] = root = k.memcg(None, "", serial=1, flags=CSS_NO_REF | CSS_ONLINE,
                               memcg_id=0, id_ref=1)
    a["online"] = online = k.memcg(root, "a", serial=2, flags=CSS_ONLINE,
                                   refcnt=(BIAS + 1, 0), memcg_id=1, id_ref=1, kmemcg_id=0)
    # rmdir'ed: no CSS_ONLINE (4.9 has no CSS_DYING); mem_cgroup_id_put() at
    # offline dropped id.ref to 0 and removed the id from mem_cgroup_idr.
    a["zombie"] = z = k.memcg(root, "b", serial=3, flags=0, refcnt=(4, KILLED),
                              memcg_id=2, id_ref=0, kmemcg_id=0, usage=4)
    k.idr("mem_cgroup_idr", {1: online})
    kmalloc = k.root_cache("kmalloc-32", 32)
    a["zc"] = zc = k.child_cache(kmalloc, z, serial=3, cgroup="b")
    f = k.file("/var/tmp/x", fs="tmpfs", ino=5)
    for _ in range(2):
        k.page(flags=["PG_lru", "PG_swapbacked"], mapping=f, memcg=z)
    k.page(flags=["PG_slab"], slab_cache=zc, memcg=z)
    k.page(mapcount=k.kmem_page_mapcount(), memcg=z)
    k.page(mapcount=-128, refcount=0)  # PAGE_BUDDY_MAPCOUNT_VALUE
    return k, a


@pytest.mark.parametrize("scanner", SCANNERS)
def test_synthetic_4_9_counters_id_and_pages(scanner):
    """Synthetic 4.9: page_counter.count, atomic_t id.ref, old IDR, no CSS_DYING,
    and _mapcount-encoded kmem pages."""
    k, a = era_4_9()
    lay = layout(k.prog)
    assert lay.state.page_counter_usage == "count"
    assert lay.refs.memcg_id_ref == "atomic_t"
    assert lay.refs.memcg_id_table == ("mem_cgroup_idr", "idr_layers")
    assert "CSS_DYING" not in lay.cgroup.css_flags
    assert lay.cgroup.kn_id == "ino"
    assert lay.charge.page_type_encoding == "mapcount" and lay.pages.off_type == 24 and lay.pages.type_shift == 0
    assert lay.charge.slab_page_names_memcg and lay.charge.kmem_cache_css_refs == 0

    report = analyze(k.prog, scan=ScanOptions(engine=scanner))
    _no_faults(report)
    z = _zombie(report, "/b")
    assert z.entry.state == "dying" and z.entry.cgroup_id == 103
    assert z.entry.nr_dying_descendants is None
    (shmem,) = _pins(z, "shmem")
    assert (shmem.what, shmem.count, shmem.css_refs) == ("/var/tmp/x (tmpfs)", 2, 2)
    (slab,) = _pins(z, "slab")
    assert (slab.count, slab.css_refs) == (1, 1)
    (kmem,) = _pins(z, "kmem")
    assert (kmem.count, kmem.css_refs) == (1, 1)
    (cache,) = _pins(z, "kmem_cache")
    assert cache.what == "kmalloc-32(3:b)" and cache.css_refs == 0
    assert cache.deactivated is True
    assert (z.explained_refs, z.unexplained_refs) == (4, 0)
    v = _verdict(z, "kmem_caches")
    assert v.verdict == "not reparented" and v.evidence["caches_listed"] == [hex(a["zc"])]

    st = memcg_state_info(drgn.Object(k.prog, "struct mem_cgroup *", a["zombie"]))
    assert st.counters["memory"] == PageCounter(usage=4, watermark=0, failcnt=0)
    assert (st.memcg_id, st.memcg_id_ref, st.in_id_table) == (2, 0, False)
    assert st.id_table == "mem_cgroup_idr"
    assert st.stats == {}  # 4.9's MEM_CGROUP_STAT_* items are not reported
    online = memcg_id_info(drgn.Object(k.prog, "struct mem_cgroup *", a["online"]))
    assert online == {"id": 1, "ref": 1, "in_table": True, "table": "mem_cgroup_idr"}


def test_synthetic_json_valid():
    """Synthetic eras: the JSON report (kmem_cache and slab-page pins included)
    validates against the documented schema."""
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parents[1] / "analyzers" / "memcg_zombies" / "schema.json").read_text())
    # Older jsonschema (Debian 12's, beside drgn 0.0.22) resolves "#/$defs/..."
    # against the relative "$id" and fails; the refs are all document-local.
    schema.pop("$id", None)
    for build in (era_4_9, era_a_4_19, era_b_5_4):
        k, _ = build()
        report = analyze(k.prog, scan=ScanOptions(engine="python"))
        jsonschema.validate(json.loads(render_json(report)), schema)


def test_synthetic_scan_engines_agree():
    """Synthetic eras: the C page-scan engine, when built, counts what Python does."""
    if "c" not in scan_mod.engines():
        pytest.skip("C engine not built")
    for build in (era_4_9, era_a_4_19, era_b_5_4):
        k, a = build()
        owners = {a["zombie"] if "zombie" in a else a["job"]}
        py = scan_mod.scan_pages(k.prog, owners, ScanOptions(engine="python"))
        c = scan_mod.scan_pages(k.prog, owners, ScanOptions(engine="c"))
        assert py.by_owner == c.by_owner and py.folios_by_owner == c.folios_by_owner
        assert py.by_mapping == c.by_mapping
