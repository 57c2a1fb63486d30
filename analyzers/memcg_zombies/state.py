"""
State of one memcg
------------------

Reference counts, the private memcg id, page counters and memory.stat
equivalents of one ``struct mem_cgroup``, read the way the kernel reads them
in every era (see :mod:`memcg_zombies.layout` for how the era is decided).

The results are the report model's :class:`~memcg_zombies.report.MemcgState`;
what cannot be read is None and a :class:`~memcg_zombies.report.Fault` is
appended to the caller's list.

    >>> from memcg_zombies.state import memcg_state_info
    >>> memcg_state_info(memcg).stats["NR_SHMEM"]
    Stat(value=1024, flushed=1024, unit='pages', bytes=4194304)
"""

from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from drgn import Object, Program
from drgn.helpers.linux.idr import idr_find
from drgn.helpers.linux.percpu import per_cpu_ptr
from drgn.helpers.linux.xarray import xa_load

from memcg_zombies.cpus import possible_cpus
from memcg_zombies.faults import guarded
from memcg_zombies.helpers.memcg import atomic_read, memcg_hierarchy, memcg_private_id
from memcg_zombies.helpers.mm import nodeinfo, page_size
from memcg_zombies.layout import layout
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.report import Fault, FrozenNote, MemcgState, PageCounter, Stat

__all__ = (
    "STAT_ITEMS",
    "LRU_LIST_ITEMS",
    "memcg_state_info",
    "memcg_refcount",
    "memcg_id_info",
    "page_counters",
    "memcg_stats",
    "memcg_node_stats",
    "frozen_note",
)

T = TypeVar("T")

#: memory.stat items reported, as ``enum node_stat_item`` / ``enum
#: memcg_stat_item`` names; items a kernel lacks are left out. Names ending
#: in ``_B`` count bytes, the others pages.
STAT_ITEMS = (
    "MEMCG_SWAP",
    "MEMCG_SOCK",
    "MEMCG_KMEM",
    "MEMCG_PERCPU_B",
    "MEMCG_VMALLOC",
    "MEMCG_ZSWAP_B",
    "NR_FILE_PAGES",
    "NR_ANON_MAPPED",
    "NR_SHMEM",
    "NR_FILE_DIRTY",
    "NR_WRITEBACK",
    "NR_SLAB_RECLAIMABLE_B",
    "NR_SLAB_UNRECLAIMABLE_B",
    # Before v5.9 slab was counted in pages.
    "NR_SLAB_RECLAIMABLE",
    "NR_SLAB_UNRECLAIMABLE",
    # The LRU sizes (what memory.stat calls inactive_anon ... unevictable)
    # and swap cache: with kmem and sock they make up the memory counter.
    "NR_INACTIVE_ANON",
    "NR_ACTIVE_ANON",
    "NR_INACTIVE_FILE",
    "NR_ACTIVE_FILE",
    "NR_UNEVICTABLE",
    "NR_SWAPCACHE",
)

#: The LRU lists' items of STAT_ITEMS.
LRU_LIST_ITEMS = ("NR_INACTIVE_ANON", "NR_ACTIVE_ANON", "NR_INACTIVE_FILE",
                  "NR_ACTIVE_FILE", "NR_UNEVICTABLE")

#: The node_stat_item entries above (those also kept per node).
_SLAB_ITEMS = ("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE_B",
               "NR_SLAB_RECLAIMABLE", "NR_SLAB_UNRECLAIMABLE")
_KMEM_ITEMS = ("MEMCG_KMEM", "MEMCG_PERCPU_B", "MEMCG_VMALLOC") + _SLAB_ITEMS
_LRU_ITEMS = ("NR_FILE_PAGES", "NR_ANON_MAPPED", "NR_SHMEM", "NR_FILE_DIRTY",
              "NR_WRITEBACK", "NR_SWAPCACHE") + LRU_LIST_ITEMS


def _try(faults: List[Fault], where: str, address: Optional[int],
         fn: Callable[[], T]) -> Optional[T]:
    # The one guard (faults.py); state's faults name the error's type.
    return guarded(faults, where, fn, None, address, typed=True)


def _enum(prog: Program, name: str) -> Optional[int]:
    try:
        return prog[name].value_()
    except (KeyError, ValueError):
        return None


def memcg_refcount(memcg: Object):
    """:class:`~memcg_zombies.percpu_ref.PercpuRef` of ``memcg->css.refcnt``, summed exactly."""
    return percpu_ref_read(memcg.css.refcnt)


def memcg_id_info(memcg: Object) -> Dict[str, Any]:
    """
    ``{"id", "ref", "in_table", "table"}`` for ``memcg->id`` (the private id,
    :func:`~memcg_zombies.helpers.memcg.memcg_private_id`).

    The base ref is dropped at offline (mem_cgroup_id_put in css_offline), and
    the id leaves the table when ref reaches 0, so a dying memcg still in the
    table is held by swap entries (or v1 move-charge).
    """
    lay = layout(memcg.prog_)
    private = memcg_private_id(memcg)
    if private is None:
        return {"id": None, "ref": None, "in_table": None, "table": None}
    ident, ref = private
    in_table = None
    table = None
    if lay.refs.memcg_id_table is not None:
        table, kind = lay.refs.memcg_id_table
        entry = _id_table_lookup(memcg.prog_, table, kind, ident)
        in_table = entry == memcg.value_()
    return {"id": ident, "ref": ref, "in_table": in_table, "table": table}


def _id_table_lookup(prog: Program, table: str, kind: str, ident: int) -> int:
    root = prog[table]
    if kind == "idr_layers":
        return _idr_layers_find(root, ident)
    if kind == "xarray":
        return xa_load(root.address_of_(), ident).value_()
    # IDRs are xarrays since v4.20 (idr_rt); look up id - idr_base directly
    # so no drgn version's idr_base handling matters.
    lay = layout(prog)
    rt = root.idr_rt
    if lay.refs.idr_rt_xarray:
        base = root.idr_base.value_() if lay.refs.idr_base else 0
        return xa_load(rt.address_of_(), ident - base).value_()
    return idr_find(root.address_of_(), ident).value_()


def _idr_layers_find(idr: Object, ident: int) -> int:
    # idr_find_slowpath() before v4.11 (layout: "idr_layers"): descend from
    # idr->top, IDR_BITS bits of the id per layer, top layer first.
    p = idr.top.read_()
    if ident < 0 or not p:
        return 0
    bits = (len(p.ary) - 1).bit_length()  # IDR_BITS (8)
    layers = p.layer.value_() + 1
    if ident >> min(layers * bits, 31):
        return 0  # beyond idr_max(layers)
    n = layers * bits
    while n > 0 and p:
        n -= bits
        p = p.ary[(ident >> n) & ((1 << bits) - 1)].read_()
    return p.value_()


def page_counters(memcg: Object, hierarchy: Optional[str] = None) -> Dict[str, PageCounter]:
    """
    ``{name: PageCounter}`` (usage, watermark, failcnt in pages) for the memcg's
    page counters. ``swap`` and ``memsw`` share storage on most kernels: the
    one that does not match the hierarchy ("cgroup2" -> swap, "cgroup1" ->
    memsw) is left out when known. ``kmem`` and ``tcpmem`` are charged only on
    cgroup v1.
    """
    lay = layout(memcg.prog_)
    names = list(lay.state.page_counters)
    if lay.state.swap_memsw_union and hierarchy in ("cgroup1", "cgroup2"):
        names.remove("memsw" if hierarchy == "cgroup2" else "swap")
    out = {}
    for name in names:
        pc = getattr(memcg, name)
        out[name] = PageCounter(usage=atomic_read(getattr(pc, lay.state.page_counter_usage)),
                                watermark=pc.watermark.value_(), failcnt=pc.failcnt.value_())
    return out


# -- memory.stat -------------------------------------------------------------


def _stat_slot(prog: Program, item: int) -> Optional[int]:
    # Where enum item lives in the memcg state arrays (memcg_stats_index()).
    lay = layout(prog)
    if lay.state.stats_index is None:
        return item
    table = prog["mem_cgroup_stats_index"]
    if item >= len(table):
        return None
    v = table[item].value_()
    if lay.state.stats_index == "s8_plus1":
        return v - 1 if v > 0 else None  # v6.10: 0 means "not a memcg stat"
    return None if v == 0xFF else v  # u8: U8_MAX means "not a memcg stat"


def _percpu_delta(percpu: Object, cur: str, prev: Optional[str], slot: int) -> int:
    # Sum over possible CPUs of the per-CPU part not yet in the shared
    # counters: cur - prev (rstat) or the batched cur (atomic eras).
    total = 0
    for cpu in possible_cpus(percpu.prog_):
        pc = per_cpu_ptr(percpu, cpu)
        v = getattr(pc, cur)[slot].value_()
        if prev is not None:
            v -= getattr(pc, prev)[slot].value_()
        total += v
    return total


def _memcg_stat(memcg: Object, item: int, slot: int) -> Tuple[int, int]:
    # (exact value, what memory.stat reads without a flush)
    lay = layout(memcg.prog_)
    mode = lay.state.vmstats
    if mode in ("rstat_ptr", "rstat_embedded"):
        # v5.13+: state[] holds flushed hierarchical values, state_pending[]
        # deltas children flushed into this memcg, and each CPU's
        # state - state_prev what no flush has seen yet.
        vm = memcg.vmstats
        if mode == "rstat_ptr":
            vm = vm[0]
        flushed = vm.state[slot].value_()
        pending = vm.state_pending[slot].value_()
        delta = _percpu_delta(memcg.vmstats_percpu, "state", "state_prev", slot)
        return flushed + pending + delta, flushed
    if mode == "atomic":
        # v5.2..v5.12: vmstats[] is the hierarchical atomic; each CPU batches
        # up to MEMCG_CHARGE_BATCH in vmstats_percpu->stat[] before adding
        # it to this memcg and all its ancestors. memory.stat reads the
        # atomic.
        flushed = atomic_read(memcg.vmstats[slot])
        delta = _percpu_delta(memcg.vmstats_percpu, "stat", None, slot)
        return flushed + delta, flushed
    if mode == "atomic_stat":
        # v4.16..v5.1: local (not hierarchical) atomic stat[] + batched stat_cpu.
        flushed = atomic_read(memcg.stat[slot])
        delta = _percpu_delta(memcg.stat_cpu, "count", None, slot)
        return flushed + delta, flushed
    if mode == "percpu":
        # v4.9: purely per-CPU, local values.
        total = _percpu_delta(memcg.stat, "count", None, slot)
        return total, total
    raise LookupError("no memcg statistics in this kernel")


_STATS_METHOD = {
    "rstat_ptr": "vmstats->state + state_pending + sum(cpu: state - state_prev); hierarchical",
    "rstat_embedded": "vmstats.state + state_pending + sum(cpu: state - state_prev); hierarchical",
    "atomic": "atomic vmstats[] + sum(cpu: vmstats_percpu->stat[]); hierarchical",
    "atomic_stat": "atomic stat[] + sum(cpu: stat_cpu->count[]); local",
    "percpu": "sum(cpu: stat->count[]); local",
}


def memcg_stats(memcg: Object, faults: Optional[List[Fault]] = None,
                items=STAT_ITEMS) -> Dict[str, Stat]:
    """
    memory.stat equivalents: ``{item: Stat}`` (value, flushed, unit, bytes).

    ``value`` is exact at dump time: it includes per-CPU deltas no flush has
    folded in yet. ``flushed`` is what memory.stat would have printed without
    flushing. For rstat and v5.2+ eras values are hierarchical; per-CPU
    deltas of live descendants are not included (a dying leaf has none).
    ``unit`` is "bytes" for ``*_B`` items, else "pages" (the kernel's unit;
    memory.stat multiplies by PAGE_SIZE). Items the kernel lacks are left out.
    """
    if faults is None:
        faults = []
    prog = memcg.prog_
    psize = page_size(prog)
    out: Dict[str, Stat] = {}
    for name in items:
        item = _enum(prog, name)
        if item is None:
            continue
        slot = _try(faults, f"memcg {memcg.value_():#x} stat index {name}",
                    memcg.value_(), lambda: _stat_slot(prog, item))
        if slot is None:
            continue
        unit = "bytes" if name.endswith("_B") else "pages"
        got = _try(faults, f"memcg {memcg.value_():#x} stat {name}", memcg.value_(),
                   lambda: _memcg_stat(memcg, item, slot))
        value, flushed = (None, None) if got is None else got
        scale = 1 if unit == "bytes" else psize
        out[name] = Stat(value, flushed, unit, None if value is None else value * scale)
    return out


def _node_stat(memcg: Object, pn: Object, item: int) -> Optional[int]:
    lay = layout(memcg.prog_)
    mode = lay.state.lruvec_stats
    if mode in ("ptr", "embedded"):
        # lruvec_stats is indexed like the memcg state arrays (compacted by
        # memcg_stats_index() since v6.10; node items come first there).
        slot = _stat_slot(memcg.prog_, item)
        if slot is None:
            return None
        st = pn.lruvec_stats[0] if mode == "ptr" else pn.lruvec_stats
        value = st.state[slot].value_() + st.state_pending[slot].value_()
        return value + _percpu_delta(pn.lruvec_stats_percpu, "state", "state_prev", slot)
    if mode == "atomic":
        # pn->lruvec_stat[] atomic + per-CPU batch in lruvec_stat_cpu->count[].
        return atomic_read(pn.lruvec_stat[item]) + _percpu_delta(
            pn.lruvec_stat_cpu, "count", None, item)
    return None


def memcg_node_stats(memcg: Object, faults: Optional[List[Fault]] = None,
                     items=STAT_ITEMS) -> Dict[int, Dict[str, Optional[int]]]:
    """
    ``{nid: {item: value}}`` of the node items (``enum node_stat_item``),
    exact like :func:`memcg_stats` (memory.numa_stat equivalents, in the
    item's own unit).
    """
    if faults is None:
        faults = []
    prog = memcg.prog_
    try:
        nr_node_items = prog["NR_VM_NODE_STAT_ITEMS"].value_()
    except KeyError:
        return {}
    enums = [(n, _enum(prog, n)) for n in items]
    wanted = [(n, i) for n, i in enums if i is not None and i < nr_node_items]
    out: Dict[int, Dict[str, Optional[int]]] = {}
    pns = _try(faults, f"memcg {memcg.value_():#x} nodeinfo", memcg.value_(),
               lambda: nodeinfo(memcg)) or []
    for nid, pn in pns:
        out[nid] = {
            name: _try(faults, f"memcg {memcg.value_():#x} node {nid} stat {name}",
                       pn.value_(), lambda: _node_stat(memcg, pn, item))
            for name, item in wanted
        }
    return out


def frozen_note(prog: Program) -> FrozenNote:
    """
    Which of a dying memcg's values the kernel stopped updating at offline
    (docs/kernel-eras.md section 2, "Counters are frozen by reparenting"): objcg-charged
    memory (kmem, slab, percpu; v5.9+) and, since v7.1, LRU folios are
    uncharged from the objcg's current memcg (an ancestor), so the dead
    memcg keeps the values it had at offline; usage is an upper bound.
    """
    lay = layout(prog)
    frozen: List[str] = []
    live: List[str] = ["MEMCG_SWAP", "MEMCG_SOCK", "swap/memsw page counter"]
    if lay.reparent.objcg is not None:
        frozen += list(_KMEM_ITEMS)
    else:
        live += list(_KMEM_ITEMS)
    if lay.reparent.lru_reparent:
        frozen += list(_LRU_ITEMS)
    else:
        live += list(_LRU_ITEMS)
    if lay.reparent.objcg is None:
        memory = "live: every charge is uncharged from this memcg"
    elif lay.reparent.lru_reparent:
        memory = ("frozen for kmem and LRU folios (7.1+: uncharged from the objcg's "
                  "ancestor); only socket memory and stock still move it")
    else:
        memory = ("upper bound: the kmem part is frozen (objcg reparented at offline), "
                  "LRU pages and sockets still uncharge it")
    return FrozenNote(frozen, live, memory)


def memcg_state_info(memcg: Object, faults: Optional[List[Fault]] = None,
                     per_node: bool = True) -> MemcgState:
    """
    Everything above for one ``struct mem_cgroup *``; see :class:`MemcgState`.
    Unreadable parts are None, with a fault appended to ``faults``.
    """
    if faults is None:
        faults = []
    prog = memcg.prog_
    addr = memcg.value_()
    where = f"memcg {addr:#x}"
    st = MemcgState(address=addr, page_size=page_size(prog))

    ref = _try(faults, f"{where} css.refcnt", addr, lambda: memcg_refcount(memcg))
    if ref is not None:
        st.css_refcnt, st.css_refcnt_dead, st.css_refcnt_mode = ref.count, ref.dead, ref.mode

    ident = _try(faults, f"{where} id", addr, lambda: memcg_id_info(memcg))
    if ident is not None:
        st.memcg_id, st.memcg_id_ref = ident["id"], ident["ref"]
        st.in_id_table, st.id_table = ident["in_table"], ident["table"]

    hierarchy = _try(faults, f"{where} hierarchy", addr, lambda: memcg_hierarchy(memcg))
    st.counters = _try(faults, f"{where} page counters", addr,
                       lambda: page_counters(memcg, hierarchy)) or {}
    vmstats = layout(prog).state.vmstats
    st.stats_method = _STATS_METHOD.get(vmstats) if vmstats is not None else None
    st.stats = memcg_stats(memcg, faults)
    if per_node:
        st.node_stats = memcg_node_stats(memcg, faults)
    st.frozen = frozen_note(prog)
    return st
