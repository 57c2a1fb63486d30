"""
Memcg-aware list_lrus (``list_lru``)
------------------------------------

Needs ``memcg->kmemcg_id``, the list_lru index (CONFIG_MEMCG_KMEM), and the
global list of memcg-aware lrus (``list_lrus``, ``memcg_list_lrus`` by v6.1);
without them: "not in this kernel". Offline rewrote ``kmemcg_id`` to the
parent's until v6.13's fb56fdf8b9a2 ("mm/list_lru: split the lock to per-cgroup
scope"), which keeps it and marks the lists dead instead. Per-memcg lists are
read one by one only where they are in ``lru->xa`` (v5.18, bbca91cca9a9 "mm:
list_lru: replace linear array with xarray").
"""

from typing import Any, Dict, List, Optional

from drgn import FaultError, Object, Program, container_of
from drgn.helpers.linux.xarray import xa_load

from memcg_zombies.helpers.memcg import memcg_private_id
from memcg_zombies.helpers.mm import nodeinfo
from memcg_zombies.layout import layout
from memcg_zombies.reparent.common import (
    MAX_LISTED, MAX_STEPS, NOT_IN_KERNEL, NOT_REPARENTED, PARTIAL, REPARENTED, UNKNOWN,
    hex_addr, online_ancestor, walk)
from memcg_zombies.report import Fault, Reparenting

__all__ = ("list_lru_verdict",)


def _memcg_lrus(prog: Program, max_steps: int, faults: List[Fault]) -> List[Object]:
    lay = layout(prog)
    assert lay.reparent.list_lru_head is not None  # list_lru_verdict() returns early without one
    head = prog[lay.reparent.list_lru_head].address_of_()
    out = []
    for pos in walk(head, max_steps, lay.reparent.list_lru_head, faults):
        lru = container_of(Object(prog, "struct list_head *", pos), "struct list_lru", "list")
        try:
            # memcg_aware is absent when no lru can be memcg aware.
            if not lay.reparent.list_lru_memcg_aware or lru.memcg_aware.value_():
                out.append(lru)
        except FaultError as e:
            faults.append(Fault(lay.reparent.list_lru_head, str(e), lru.value_()))
    return out


def _long_min(prog: Program) -> int:
    return -(1 << (prog.type("long").size * 8 - 1))


def list_lru_verdict(memcg: Object, faults: List[Fault], max_steps: int = MAX_STEPS,
                     cache: Optional[Dict[Any, Any]] = None) -> Reparenting:
    """
    Up to v6.12 offline rewrote ``kmemcg_id`` of the memcg and its
    descendants to the parent's and spliced the lists (v6.1+: and erased the
    ``lru->xa`` entry of the old id); from v6.13 ``kmemcg_id`` is kept, the
    xa entry is erased and the lists are marked ``nr_items = LONG_MIN``.
    The global list of memcg-aware lrus is checked entry by entry where the
    old index is known.
    """
    prog = memcg.prog_
    lay = layout(prog)
    mech = "list_lru"
    if lay.reparent.list_lru_head is None or not lay.reparent.memcg_kmemcg_id:
        return Reparenting(mech, NOT_IN_KERNEL, "no memcg-aware list_lru (CONFIG_MEMCG_KMEM off?)")
    kid = memcg.kmemcg_id.value_()
    anc = online_ancestor(memcg)
    anc_kid = None if anc is None else anc.kmemcg_id.value_()
    private = memcg_private_id(memcg)
    mid = None if private is None else private[0]
    # One global list for every memcg of a report: walked once.
    lrus = cache.get("memcg_aware_lrus") if cache is not None else None
    if lrus is None:
        lrus = _memcg_lrus(prog, max_steps, faults)
        if cache is not None:
            cache["memcg_aware_lrus"] = lrus
    ev: Dict[str, Any] = {"kmemcg_id": kid, "ancestor_kmemcg_id": anc_kid,
                          "memcg_id": mid, "memcg_aware_lrus": len(lrus),
                          "era": "dead marker (v6.13+)" if lay.reparent.list_lru_dead_marker
                          else "kmemcg_id rewritten"}

    if lay.reparent.list_lru_dead_marker:
        # kmemcg_id is the memcg's own index; it may have been reused if
        # the id was freed and taken by a new memcg.
        index = kid
        if mid != kid and _id_reused(prog, kid, memcg):
            return Reparenting(mech, UNKNOWN, f"kmemcg_id {kid} was reused by another memcg", ev)
    else:
        if kid != anc_kid and kid >= 0:
            if lay.reparent.memcg_kmem_state:
                ev["kmem_state"] = memcg.kmem_state.value_()
            return Reparenting(mech, NOT_REPARENTED if anc_kid is not None else UNKNOWN,
                           "kmemcg_id is not the nearest online ancestor's", ev)
        # The old index is still known only while the memcg id lives.
        index = mid if mid else None

    if index is None or lay.reparent.list_lru_memcg != "xarray":
        return Reparenting(mech, REPARENTED, "kmemcg_id rewritten to the nearest online "
                       "ancestor's (the old index is gone, lists not checked one by one)", ev)

    live, dead_marked = [], 0
    for lru in lrus:
        try:
            mlru = xa_load(lru.xa.address_of_(), index)
            if not mlru:
                continue
            mlru = Object(prog, "struct list_lru_memcg *", mlru.value_())
            nodes = [mlru.node[nid] for nid, _ in nodeinfo(memcg)]
            if nodes and all(n.nr_items.value_() == _long_min(prog) for n in nodes):
                dead_marked += 1
            else:
                live.append(lru.value_())
        except FaultError as e:
            faults.append(Fault(f"list_lru {lru.value_():#x}", str(e), lru.value_()))
    ev.update(index=index, lrus_with_entry=len(live), lrus_dead_marked=dead_marked,
              listed=[hex_addr(a) for a in live[:MAX_LISTED]])
    if not live:
        return Reparenting(mech, REPARENTED, f"no list_lru keeps an entry for index {index}"
                       + ("" if lay.reparent.list_lru_dead_marker else "; kmemcg_id is the ancestor's"), ev)
    if len(live) == len(lrus):
        return Reparenting(mech, NOT_REPARENTED, f"every list_lru still has lists for index {index}", ev)
    return Reparenting(mech, PARTIAL, f"{len(live)} of {len(lrus)} list_lrus still have lists "
                   f"for index {index}", ev)


def _id_reused(prog: Program, index: int, memcg: Object) -> bool:
    table = layout(prog).refs.memcg_id_table
    if table is None or table[1] != "xarray":
        return False
    entry = xa_load(prog[table[0]].address_of_(), index).value_()
    return bool(entry) and entry != memcg.value_()
