"""State, reparenting verdicts and cost of dying memcgs, read from real vmcores and
checked against what the guest recorded before rmdir (memory.stat, memory.current,
memory.swap.current) and against what each kernel guarantees.

Exactly comparable, per kernel (measured on the test bed):
- 5.10 (atomic vmstats + per-CPU batches): memory.stat printed the atomic part, so the
  truth equals ``flushed``; ``value`` adds the per-CPU batches (tmpfs: 1023 vs 1024).
- 6.1 / 6.12 / 7.2 (rstat): ``value`` equals the truth for file, shmem, file_dirty, anon.
- 6.1 / 6.12 (and 7.2 ext4/tcp): memory usage == LRU sizes + MEMCG_KMEM + MEMCG_SOCK
  + the memcg's pages in per-CPU charge stocks.
- The swap zombie: id in the id table, id.ref == swap usage == MEMCG_SWAP, and the swap
  counter's watermark == memory.swap.current recorded before rmdir."""

import pytest

from memcg_zombies.cgroups import for_each_memcg, memcg_path, memcg_state
from memcg_zombies.cli import open_program
from memcg_zombies.cost import kmalloc_size, memcg_cost
from memcg_zombies.layout import layout
from memcg_zombies.pinners import Context
from memcg_zombies.pinners.stock import stock_entries
from memcg_zombies.reparent import memcg_reparenting
from memcg_zombies.state import LRU_LIST_ITEMS, memcg_state_info
from tests.conftest import truth_of
from tests.expect import FILTERED, filtered_drops_pages, kver, swap_window

PAGE = 4096
_PROGS = {}
_MEMCGS = {}

# memory.stat key for each item compared with the truth.
STAT_KEYS = {"NR_FILE_PAGES": "file", "NR_SHMEM": "shmem", "NR_FILE_DIRTY": "file_dirty",
             "NR_ANON_MAPPED": "anon"}
# Scenarios whose zombie did not change between the record and the dump.
STABLE = {"tmpfs", "ext4", "anon", "bulk", "children", "subtree"}


def _prog(vmcore, vmlinux):
    if vmcore not in _PROGS:
        _PROGS[vmcore] = open_program(vmcore, vmlinux)
    return _PROGS[vmcore]


def _memcgs(case, fmt="kdump"):
    """{path: memcg} of the dying memcgs of one dump (cached)."""
    key = case["vmcores"][fmt]
    if key not in _MEMCGS:
        prog = _prog(key, case["vmlinux"])
        faults = []
        out = {}
        for m in for_each_memcg(prog, faults):
            try:
                if memcg_state(m) == "dying":
                    out[memcg_path(m)] = m
            except Exception:  # unreadable in a filtered dump
                continue
        _MEMCGS[key] = out
    return _MEMCGS[key]


def _dying_truth(case):
    t = truth_of(case)
    return {p: c for p, c in t["cgroups"].items() if c.get("dying")}


def _value(st, item):
    s = st.stats.get(item)
    return None if s is None else s.value


def test_layout_facts(case):
    prog = _prog(case["vmcores"]["kdump"], case["vmlinux"])
    f = layout(prog).facts()
    k = case["kernel"]
    assert f["memcg_id_table"] == {"5.10": "mem_cgroup_idr", "6.1": "mem_cgroup_idr",
                                   "6.12": "mem_cgroup_ids"}.get(k, "mem_cgroup_private_ids")
    assert f["vmstats"] == ("atomic" if k == "5.10" else "rstat_ptr")
    assert f["stats_index"] == (None if k in ("5.10", "6.1") else "u8")
    v = kver(case)
    assert f["objcg"] == ("per_node" if v >= (7, 1) else "memcg")
    assert f["orig_objcg"] == (v >= (6, 8))
    assert f["lru_reparent"] == (v >= (7, 1))
    assert f["memcg_params"] is False
    assert f["page_counter_usage"] == "usage"
    assert f["swap_memsw_union"] is True


def test_refcounts(case):
    """tmpfs/leaf holds one css ref per shmem page; a bulk zombie only its one page."""
    dying = _memcgs(case)
    if kver(case) < (7, 1):  # 7.1+ reparents LRU folios: tmpfs and bulk zombies are freed
        st = memcg_state_info(dying["/mz/tmpfs/leaf"])
        assert st.css_refcnt == 1024
        assert st.css_refcnt_dead is True and st.css_refcnt_mode == "atomic"
        assert _value(st, "NR_SHMEM") == 1024
        assert st.stats["NR_SHMEM"].bytes == 4 << 20
        bulk = [m for p, m in dying.items() if p.startswith("/mz/bulk/z")]
        assert len(bulk) == case.get("bulk", 1000)
        for m in bulk[:50]:
            st = memcg_state_info(m, per_node=False)
            assert st.css_refcnt == 1
            assert _value(st, "NR_SHMEM") == 1
    for p, m in dying.items():
        if not p.startswith("/mz/bulk/z"):
            st = memcg_state_info(m, per_node=False)
            assert st.css_refcnt_dead is True, p
            assert st.css_refcnt >= 1, p


def test_memory_stat_matches_truth(case):
    """Zombies whose pins did not change show what memory.stat showed before rmdir."""
    dying = _memcgs(case)
    truth = _dying_truth(case)
    field = "flushed" if layout(next(iter(dying.values())).prog_).state.vmstats == "atomic" else "value"
    checked = 0
    for path, tr in truth.items():
        if tr["scenario"] not in STABLE or path not in dying:
            continue
        if path.startswith("/mz/bulk/z") and kver(case) >= (6, 0):
            # zhog reads memory.stat microseconds after its child wrote the
            # page: rstat flushes only past a threshold of pending updates, so
            # memory.stat may not show that page yet (checked against the file
            # sizes instead, in test_pins).
            continue
        if path.startswith("/mz/bulk/z") and checked > 60:
            continue
        st = memcg_state_info(dying[path], per_node=False)
        for item, key in STAT_KEYS.items():
            s = st.stats[item]
            assert getattr(s, field) * PAGE == tr["memory_stat"].get(key, 0), (path, item, s)
        checked += 1
        # memory.current included per-CPU stock, drained at offline.
        assert st.counters["memory"].usage * PAGE <= tr["memory_current"], path
    # 7.2 frees the tmpfs, anon, bulk and children zombies (LRU folios reparented).
    assert checked >= (1 if kver(case) >= (7, 1) else 5)


def _stock_pages(case, fmt="kdump"):
    """{memcg address: pages} pre-charged in the per-CPU charge stocks of one dump."""
    prog = _prog(case["vmcores"][fmt], case["vmlinux"])
    pages = {}
    for memcg, _, kind, nbytes in stock_entries(Context(prog, {}, {}, [])):
        if kind == "memcg":  # an objcg's bytes are in MEMCG_KMEM already
            pages[memcg] = pages.get(memcg, 0) + nbytes // PAGE
    return pages


def _all_memcgs(case, fmt="kdump"):
    """{path: memcg} of every memcg of one dump whose path reads."""
    prog = _prog(case["vmcores"][fmt], case["vmlinux"])
    out = {}
    for m in for_each_memcg(prog, []):
        try:
            out[memcg_path(m)] = m
        except Exception:  # unreadable in a filtered dump
            continue
    return out


# What the memory counter is made of on v2 with MEMCG_KMEM: LRU pages, kmem, sockets.
_COUNTED = LRU_LIST_ITEMS + ("MEMCG_KMEM", "MEMCG_SOCK")


def _explained(st, stock_pages):
    lru = sum(_value(st, i) for i in LRU_LIST_ITEMS)
    if not lru:
        # v7.3 ("memcg: move LRU size accounting on reparenting instead of copying
        # it") moves a dying memcg's LRU size counters with its folios; its
        # NR_FILE_PAGES / NR_ANON_MAPPED stay frozen with the counter.
        lru = _value(st, "NR_FILE_PAGES") + _value(st, "NR_ANON_MAPPED")
    return lru + _value(st, "MEMCG_KMEM") + _value(st, "MEMCG_SOCK") + stock_pages


def test_memory_counter_is_lru_kmem_sock(case):
    """On v2 with MEMCG_KMEM the memory counter is LRU + kmem + sock + the pages a
    per-CPU charge stock holds for the memcg. The stock is drained at offline
    (drain_all_stock), but a socket that frees memory afterwards returns its pages to
    the stock, still charged: mem_cgroup_uncharge_skmem() lowers MEMCG_SOCK and calls
    refill_stock() (v4.5, f7e1cb6ec51b); the multi-memcg stock (cached[] slots) keeps
    them until the slot is reused or drained.

    Exact for every dying memcg before LRU reparenting. With it (v7.1, f1cf8d2f36dc
    "mm: memcontrol: eliminate the problem of dying memory cgroup for LRU folios"),
    offline repoints the memcg's objcgs to the parent (memcg_reparent_objcgs()): from
    then on every stat update and uncharge of its folios goes to the parent, and the
    dying memcg's counter and stats freeze. A folio whose stat left the memcg before
    the switch (unmapped by reclaim, deleted from the page cache) but which was freed
    after it is uncharged from the parent: the dying memcg's counter keeps that page
    for good, and nothing in memory says which page it was (seen: 7.3.4's
    /mz/tcp/leaf, 1 page over on 1 of 4 builds, the swap scenario's reclaim running
    while it went offline). So there the dying memcg's counter is at least what its
    stats explain, and exactness holds one level up: see
    test_memory_counter_of_online_parents."""
    if case["kernel"] == "5.10":
        pytest.skip("5.10 has no MEMCG_KMEM stat to balance the counter with")
    stock = _stock_pages(case)
    lru_reparent = layout(_prog(case["vmcores"]["kdump"], case["vmlinux"])).reparent.lru_reparent
    for path, m in _memcgs(case).items():
        st = memcg_state_info(m, per_node=False)
        explained = _explained(st, stock.get(m.value_(), 0))
        if lru_reparent:
            assert st.counters["memory"].usage >= explained, (path, explained)
        else:
            assert st.counters["memory"].usage == explained, path


def test_memory_counter_of_online_parents(case):
    """The invariant that survives LRU reparenting, exact on every kernel with
    MEMCG_KMEM: an online memcg's counter is its hierarchical LRU + kmem + sock, plus
    what its descendants changed but have not yet flushed to it (rstat: a child's
    state_pending and per-CPU deltas, folded into the parent at the next flush), plus
    the stock pages of its whole subtree (a child's charge is the parent's too). A
    folio that straddled a child's objcg switch (see above) left the parent's counter
    and its stats together, so the parent balances where the child cannot."""
    if case["kernel"] == "5.10":
        pytest.skip("5.10 has no MEMCG_KMEM stat to balance the counter with")
    stock = _stock_pages(case)
    memcgs = _all_memcgs(case)
    infos = {p: memcg_state_info(m, per_node=False) for p, m in memcgs.items()
             if p.startswith("/mz/") and p.count("/") >= 2}
    checked = 0
    for path, st in infos.items():
        m = memcgs[path]
        if path.count("/") != 2 or memcg_state(m) != "online":
            continue
        below = [q for q in infos if q.startswith(path + "/")]
        if not below:
            continue
        counted = sum(_value(st, i) for i in _COUNTED)
        unflushed = sum(infos[q].stats[i].value - infos[q].stats[i].flushed
                        for q in below for i in _COUNTED)
        stocked = sum(stock.get(memcgs[q].value_(), 0) for q in [path] + below)
        assert st.counters["memory"].usage == counted + unflushed + stocked, path
        checked += 1
    assert checked >= 5  # /mz/tcp, /mz/swap, /mz/ext4, ... each with a dying child


def test_ext4_dirty(case):
    dying = _memcgs(case)
    tr = _dying_truth(case)["/mz/ext4/leaf"]
    st = memcg_state_info(dying["/mz/ext4/leaf"])
    assert _value(st, "NR_FILE_DIRTY") == 256  # 16 x 64 KiB left dirty
    field = "flushed" if case["kernel"] == "5.10" else "value"
    assert getattr(st.stats["NR_FILE_DIRTY"], field) * PAGE == tr["memory_stat"]["file_dirty"]
    assert sum(st.node_stats[n]["NR_FILE_DIRTY"] for n in st.node_stats) == 256


def test_swap_zombie(case):
    """Swap entries hold the memcg id: still in the table, one id ref per entry."""
    m = _memcgs(case)["/mz/swap/leaf"]
    tr = _dying_truth(case)["/mz/swap/leaf"]
    st = memcg_state_info(m)
    swap = st.counters["swap"]
    assert "memsw" not in st.counters  # cgroup2
    assert st.in_id_table is True and st.memcg_id > 0
    assert st.memcg_id_ref >= 1
    assert st.memcg_id_ref == swap.usage == _value(st, "MEMCG_SWAP")
    # The most it ever held is what the guest read, or more by late swap-outs.
    swapped = tr["memory_swap_current"] // PAGE
    assert swapped <= swap.watermark <= swapped + swap_window(tr)
    assert swap.usage <= swap.watermark
    others = [s for p, s in ((p, memcg_state_info(x, per_node=False))
                             for p, x in _memcgs(case).items() if p != "/mz/swap/leaf"
                             and not p.startswith("/mz/bulk/z"))]
    assert all(s.in_id_table is False and s.memcg_id_ref == 0 for s in others)


def test_frozen_note(case):
    st = memcg_state_info(_memcgs(case)["/mz/ext4/leaf"], per_node=False)
    assert st.frozen is not None
    assert "MEMCG_KMEM" in st.frozen.frozen
    assert ("NR_FILE_PAGES" in st.frozen.frozen) == (kver(case) >= (7, 1))
    assert "MEMCG_SWAP" in st.frozen.live


def test_reparent_verdicts(case):
    k = case["kernel"]
    dying = _memcgs(case)
    for path, m in dying.items():
        if path.startswith("/mz/bulk/z") and not path.endswith(("/z0", "/z1", "/z999")):
            continue
        faults = []
        v = {x.mechanism: x for x in memcg_reparenting(m, faults)}
        assert not faults, (path, faults[:3])
        assert v["kmem_caches"].verdict == "not in this kernel"
        assert v["objcg"].verdict == "reparented", (path, v["objcg"])
        holders = v["objcg"].evidence["holders"]
        assert all(h["objcg"] == "0x0" for h in holders.values())
        if kver(case) >= (6, 8):
            assert all(h["orig_points_to_ancestor"] for h in holders.values()), path
            assert all(h["orig_objcg"]["dead"] for h in holders.values())
            assert v["objcg"].evidence["ancestor_objcg_list"]["orig_objcg_on_ancestor_list"] == \
                len(holders)
        lst = v["objcg"].evidence["ancestor_objcg_list"]
        assert lst["count"] >= 1 and lst["pointing_to_ancestor"] == lst["count"]
        assert v["lru_folios"].verdict == ("reparented" if kver(case) >= (7, 1)
                                           else "not in this kernel")
        assert v["deferred_split"].verdict == "not in this kernel"
        if kver(case) >= (7, 1):
            assert v["list_lru"].verdict in ("reparented", "unknown"), (path, v["list_lru"])
        else:
            assert v["list_lru"].verdict == "reparented", (path, v["list_lru"])
    # The swap zombie keeps its id, so with lru->xa (5.18+) the list_lru index is
    # checked lru by lru; 5.10's per-node arrays are only checked by kmemcg_id.
    v = {x.mechanism: x for x in memcg_reparenting(dying["/mz/swap/leaf"])}
    assert v["list_lru"].verdict == "reparented"
    if k != "5.10":
        assert v["list_lru"].evidence["lrus_with_entry"] == 0
    assert v["list_lru"].evidence["memcg_aware_lrus"] > 10


def test_cost(case):
    for path, m in list(_memcgs(case).items())[:20]:
        faults = []
        c = memcg_cost(m, faults)
        assert not faults, faults
        assert c.to_dict()["estimate"] is True
        assert c.total_bytes == sum(p.bytes for p in c.parts) > 0
        assert c.total_raw_bytes == sum(p.raw_bytes for p in c.parts)
        assert all(p.bytes >= p.raw_bytes for p in c.parts)
        names = {p.name for p in c.parts}
        assert {"struct mem_cgroup", "struct mem_cgroup_per_node"} <= names
        assert c.cgroup_removed == (path != "/mz/subtree/w")
        assert ("struct cgroup" in names) == c.cgroup_removed
        assert c.nr_nodes >= 1 and c.nr_cpus is not None and c.nr_cpus >= 1


def test_kmalloc_size():
    assert [kmalloc_size(n) for n in (1, 8, 9, 65, 96, 97, 129, 193, 2184, 8192)] == \
        [8, 8, 16, 96, 96, 128, 192, 256, 4096, 8192]
    assert kmalloc_size(8193) == 16384 and kmalloc_size(3 * 4096 + 1) == 16384


def test_every_format(dump):
    """Same numbers from every dump format; a filtered dump may only fault."""
    case, fmt = dump
    ref = _memcgs(case, "kdump")
    got = _memcgs(case, fmt)
    path = "/mz/ext4/leaf"
    if path not in got:
        assert filtered_drops_pages(case, fmt)
        return
    faults = []
    a = memcg_state_info(got[path], faults)
    b = memcg_state_info(ref[path])
    memcg_reparenting(got[path], faults)
    memcg_cost(got[path], faults)
    if fmt not in FILTERED:
        assert not faults
        assert a.to_dict() == b.to_dict()
    if a.css_refcnt is None:
        # makedumpfile -d 31 dropped the page with the ref's data (6.12+ slab
        # pages): then it says so, and nothing contradicts the full dump.
        assert filtered_drops_pages(case, fmt) and faults
    else:
        assert a.css_refcnt == b.css_refcnt
