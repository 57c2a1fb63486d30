"""
What a zombie memcg costs
-------------------------

The memory held by a dying memcg's own structures, estimated from the type
sizes in the debug info (not measured from the allocator): the memcg and its
nodeinfo array, one ``mem_cgroup_per_node`` per node, the per-CPU statistics,
the separately allocated stats, the css refcount, an obj_cgroup the memcg
owns, and the removed cgroup with its kernfs node.

kmalloc'ed parts are rounded up to the kmalloc size class (powers of two
plus 96 and 192; above KMALLOC_MAX_CACHE_SIZE whole pages, power-of-two
orders); per-CPU parts are size x possible CPUs, not rounded.

    >>> memcg_cost(memcg).total_bytes
    41216
"""

from typing import List, Optional, Tuple

from drgn import FaultError, Object, Program, TypeKind, sizeof

from memcg_zombies.cpus import possible_cpus
from memcg_zombies.faults import warn_on_fault
from memcg_zombies.helpers.mm import nodeinfo, page_size
from memcg_zombies.layout import layout, per_program
from memcg_zombies.report import CostPart, Fault, MemcgCost

__all__ = ("kmalloc_size", "memcg_cost")

_NOTE = ("estimate from type sizes in the debug info; kmalloc parts rounded up to "
         "the size class, per-CPU parts = size x possible CPUs")


def kmalloc_size(size: int, page: int = 4096) -> int:
    """The kmalloc size class that serves ``size`` bytes (SLUB, 8-byte minimum)."""
    if size <= 0:
        return 0
    if size <= 8:
        return 8
    if 64 < size <= 96:
        return 96
    if 128 < size <= 192:
        return 192
    if size <= 2 * page:  # KMALLOC_MAX_CACHE_SIZE on SLUB
        return 1 << (size - 1).bit_length()
    # Larger requests go to the page allocator: a power-of-two order of pages.
    pages = -(-size // page)
    return page << (pages - 1).bit_length()


def _size(prog: Program, type_name: str) -> int:
    # A missing type raises LookupError: memcg_cost()'s step() records it as a fault.
    return sizeof(prog.type(type_name))


def _sized(ptr: Object, part: str) -> Tuple[int, int]:
    """(sizeof *ptr, element size of its trailing flexible array or 0), once per
    program and part: a part's type is the same for every memcg, and drgn takes
    microseconds to size a large struct (100,000 zombies ask ~10 times each)."""
    def size() -> Tuple[int, int]:
        t = ptr.type_.type
        return sizeof(t), _flex_elem(t)

    return per_program(ptr.prog_, ("cost part size", part), size)


def _pointee_size(ptr: Object, part: str) -> int:
    return _sized(ptr, part)[0]


def _flex_elem(obj_type) -> int:
    # Element size of a trailing flexible array member, 0 if there is none.
    t = obj_type
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    if t.kind not in (TypeKind.STRUCT, TypeKind.UNION) or not t.members:
        return 0
    mt = t.members[-1].type
    while mt.kind == TypeKind.TYPEDEF:
        mt = mt.type
    if mt.kind == TypeKind.ARRAY and not mt.length:
        return sizeof(mt.type)
    return 0


class _Parts:
    def __init__(self, page: int) -> None:
        self.page = page
        self.parts: List[CostPart] = []

    def kmalloc(self, name: str, raw: int, count: int = 1, how: str = "") -> None:
        self.parts.append(CostPart(name, raw * count, count, kmalloc_size(raw, self.page) * count,
                                   how or "kmalloc"))

    def slab(self, name: str, raw: int, how: str) -> None:
        self.parts.append(CostPart(name, raw, 1, raw, how))

    def percpu(self, name: str, raw: int, cpus: Optional[int], count: int = 1) -> None:
        if cpus is None:
            return  # the possible-CPU mask was unreadable (one fault says so)
        self.parts.append(CostPart(name, raw * cpus * count, count, raw * cpus * count,
                                   f"per-CPU x {cpus}"))


def _percpu_ref_parts(parts: _Parts, name: str, ref: Object, cpus: Optional[int]) -> None:
    # A live (not exited) percpu_ref: one unsigned long per CPU, and the
    # separately allocated struct percpu_ref_data since v5.10.
    lay = layout(ref.prog_)
    if ref.percpu_count_ptr.value_() & ~3:
        parts.percpu(f"{name} per-CPU counter", sizeof(ref.prog_.type("unsigned long")), cpus)
    if lay.cgroup.percpu_ref_data and ref.data.value_():
        parts.kmalloc(f"{name} percpu_ref_data", _pointee_size(ref.data, "percpu_ref_data"))


def _percpu_member(parts: _Parts, name: str, obj: Object, member: str,
                   cpus: Optional[int]) -> None:
    # A per-CPU allocation hanging off obj.member, when allocated. Callers
    # check that the member exists on this kernel (layout/).
    ptr = getattr(obj, member)
    if ptr.value_():
        parts.percpu(name, _pointee_size(ptr, name), cpus)


def _cgroup_removed(memcg: Object) -> bool:
    # rmdir kills the cgroup's self css: CSS_ONLINE goes away from its flags.
    lay = layout(memcg.prog_)
    return not memcg.css.cgroup.self.flags.value_() & lay.cgroup.CSS_ONLINE


def memcg_cost(memcg: Object, faults: Optional[List[Fault]] = None) -> MemcgCost:
    """
    The parts of the memcg's own structures (:class:`~memcg_zombies.report.MemcgCost`):
    each part's ``bytes`` is rounded to the allocator's size class, ``raw_bytes`` is
    the type size. Parts that cannot be read are skipped with a fault.
    """
    if faults is None:
        faults = []
    prog = memcg.prog_
    lay = layout(prog)
    psize = page_size(prog)
    parts = _Parts(psize)
    where = f"cost of memcg {memcg.value_():#x}"
    try:
        cpus: Optional[int] = len(possible_cpus(prog))
    except FaultError as e:
        # Per-CPU parts are then left out.
        faults.append(Fault(where, f"possible CPUs: {e}", None))
        cpus = None

    def step(what: str, fn) -> None:
        with warn_on_fault(faults, where, memcg.value_(), what=what):
            fn()

    pns: List = []

    def memcg_itself() -> None:
        nonlocal pns
        pns = nodeinfo(memcg)
        nr_nodes = prog["nr_node_ids"].value_()
        size, elem = _sized(memcg, "memcg")
        # mem_cgroup_alloc(): kzalloc(struct_size(memcg, nodeinfo, nr_node_ids))
        parts.kmalloc("struct mem_cgroup", size + elem * nr_nodes,
                      how=f"kmalloc, with nodeinfo[{nr_nodes}]" if lay.state.nodeinfo_flexible
                      else "kmalloc")

    def per_node() -> None:
        pn_size = _size(prog, "struct mem_cgroup_per_node")
        parts.kmalloc("struct mem_cgroup_per_node", pn_size, count=len(pns),
                      how="kmalloc_node per node")
        if lay.state.lruvec_stats == "ptr":
            parts.kmalloc("struct lruvec_stats", _size(prog, "struct lruvec_stats"),
                          count=len(pns), how="kmalloc_node per node")
        for name in lay.state.pn_percpu_stats:
            if pns:
                parts.percpu(f"mem_cgroup_per_node.{name}",
                             _pointee_size(getattr(pns[0][1], name), f"pn.{name}"), cpus,
                             count=len(pns))

    def stats() -> None:
        for name in lay.state.memcg_percpu_stats:
            parts.percpu(f"mem_cgroup.{name}", _pointee_size(getattr(memcg, name), name), cpus)
        if lay.state.vmstats == "rstat_ptr":
            parts.kmalloc("struct memcg_vmstats", _pointee_size(memcg.vmstats, "vmstats"))
        if lay.state.vmstats == "atomic_stat":
            parts.percpu("mem_cgroup.stat_cpu", _pointee_size(memcg.stat_cpu, "stat_cpu"), cpus)
        if lay.state.vmstats == "percpu":
            parts.percpu("mem_cgroup.stat", _pointee_size(memcg.stat, "stat"), cpus)

    def css_ref() -> None:
        _percpu_ref_parts(parts, "css.refcnt", memcg.css.refcnt, cpus)
        if lay.state.css_rstat_cpu:
            _percpu_member(parts, "css.rstat_cpu", memcg.css, "rstat_cpu", cpus)

    def own_objcg() -> None:
        # v6.8+: orig_objcg belongs to the memcg until mem_cgroup_free()
        # (per node since v7.1). Earlier objcgs live as long as their users.
        if not lay.reparent.orig_objcg:
            return
        holders = [pn for _, pn in pns] if lay.reparent.objcg == "per_node" else [memcg]
        size = _size(prog, "struct obj_cgroup")
        for h in holders:
            objcg = h.orig_objcg.read_()
            if objcg:
                parts.kmalloc("orig_objcg struct obj_cgroup", size)
                _percpu_ref_parts(parts, "orig_objcg.refcnt", objcg.refcnt, cpus)

    def cgroup() -> None:
        if not _cgroup_removed(memcg):
            return
        cgrp = memcg.css.cgroup
        size, elem = _sized(cgrp, "cgroup")
        # cgroup_create(): kzalloc(struct_size(cgrp, ancestors, level + 1))
        parts.kmalloc("struct cgroup", size + elem * (cgrp.level.value_() + 1))
        _percpu_ref_parts(parts, "cgroup self css.refcnt", cgrp.self.refcnt, cpus)
        # rstat per-CPU state: on the cgroup up to v6.18, on each css plus
        # cgroup.rstat_base_cpu since v6.19 (docs/kernel-eras.md section 4).
        for name in lay.state.cgroup_rstat_percpu:
            _percpu_member(parts, f"cgroup.{name}", cgrp, name, cpus)
        if lay.state.css_rstat_cpu:
            _percpu_member(parts, "cgroup self css.rstat_cpu", cgrp.self, "rstat_cpu", cpus)
        kn = cgrp.kn.read_()
        if kn:
            parts.slab("struct kernfs_node", _pointee_size(kn, "kn"), "kernfs_node_cache object")
            # kernfs_new_node(): kstrdup_const(name)
            parts.kmalloc("kernfs_node name", len(kn.name.string_()) + 1)

    step("struct mem_cgroup", memcg_itself)
    step("nodeinfo", per_node)
    step("statistics", stats)
    step("css.refcnt", css_ref)
    step("orig_objcg", own_objcg)
    step("cgroup", cgroup)

    removed = None
    try:
        removed = _cgroup_removed(memcg)
    except FaultError:
        pass
    return MemcgCost(_NOTE, cpus, len(pns), removed, parts.parts)
