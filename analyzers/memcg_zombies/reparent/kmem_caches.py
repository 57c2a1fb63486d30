"""
Per-memcg slab caches (``kmem_caches``), v5.3..v5.8
---------------------------------------------------

v5.3 ("mm: memcg/slab: reparent memcg kmem_caches on cgroup removal") moves a
dying memcg's caches to its parent at offline; v5.9 ("mm: memcg/slab: use a
single set of kmem_caches for all accounted allocations") removed per-memcg
caches, so without ``kmem_cache.memcg_params`` (or with CONFIG_MEMCG_KMEM off)
the mechanism is "not in this kernel". Before v5.3 the caches are only
deactivated, never moved: "not reparented". How they are found before v5.3:
``memcg->kmem_caches`` since v4.11 (bc2791f857e1), ``slab_caches`` before.
"""

from typing import Any, Dict, List

from drgn import Object, container_of

from memcg_zombies.layout import layout
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.reparent.common import (
    MAX_LISTED, MAX_STEPS, NOT_IN_KERNEL, NOT_REPARENTED, REPARENTED, hex_addr,
    online_ancestor, walk)
from memcg_zombies.report import Fault, Reparenting

__all__ = ("kmem_caches_verdict",)


def kmem_caches_verdict(memcg: Object, faults: List[Fault],
                        max_steps: int = MAX_STEPS) -> Reparenting:
    """
    v5.3..v5.8: memcg_deactivate_kmem_caches() moved the memcg's caches onto
    the parent's ``kmem_caches`` list and set ``memcg_params.memcg`` to the
    parent. The caches still carry the dead memcg's css serial number in
    their name, "root(serial:cgroup)".
    """
    prog = memcg.prog_
    lay = layout(prog)
    mech = "kmem_caches"
    if not lay.reparent.memcg_params:
        return Reparenting(mech, NOT_IN_KERNEL, "struct kmem_cache has no memcg_params "
                       "(one set of caches for everyone since v5.9, or no kmem accounting)")
    where = f"kmem_caches of memcg {memcg.value_():#x}"
    serial = memcg.css.serial_nr.value_()
    # kmem_cache_css_refs == 1: memcg_params.refcnt (v5.3+).
    if lay.charge.kmem_cache_css_refs != 1 or not lay.reparent.memcg_kmem_caches:
        # Era A (up to v5.2, memcg_params without refcnt): offline only
        # deactivates the caches (memcg_deactivate_kmem_caches(memcg) NULLs
        # the root's memcg_caches entry); memcg_params.memcg keeps naming the
        # dead memcg until the cache drains and is destroyed at css_free.
        own = _era_a_caches(memcg, max_steps, where, faults)
        ev: Dict[str, Any] = {"own_caches": len(own), "serial_nr": serial,
                              "caches_listed": [hex_addr(a) for a in own[:MAX_LISTED]]}
        for f, present in (("kmemcg_id", lay.reparent.memcg_kmemcg_id),
                           ("kmem_state", lay.reparent.memcg_kmem_state)):
            if present:
                ev[f] = getattr(memcg, f).value_()
        how = "before v5.3 per-memcg caches are only deactivated, never reparented"
        if own:
            return Reparenting(mech, NOT_REPARENTED, f"{len(own)} caches still charge the memcg "
                           f"({how})", ev)
        return Reparenting(mech, NOT_REPARENTED, f"no per-memcg caches left ({how})", ev)
    own = walk(memcg.kmem_caches.address_of_(), max_steps, where, faults)
    ev = {"own_caches": len(own), "serial_nr": serial}
    anc = online_ancestor(memcg)
    moved: List[int] = []
    if anc is not None:
        ev["ancestor"] = hex_addr(anc.value_())
        tag = f"({serial}:".encode()
        pointing = dead = 0
        for pos in walk(anc.kmem_caches.address_of_(), max_steps,
                         f"kmem_caches of memcg {anc.value_():#x}", faults):
            s = container_of(Object(prog, "struct list_head *", pos), "struct kmem_cache",
                             "memcg_params.kmem_caches_node")
            if tag in s.name.string_():
                moved.append(s.value_())
                # memcg_deactivate_kmem_caches() pointed it at the parent
                # and percpu_ref_kill()ed its refcnt.
                pointing += s.memcg_params.memcg.value_() == anc.value_()
                dead += percpu_ref_read(s.memcg_params.refcnt, sum_percpu=False).dead
        ev["caches_on_ancestor"] = len(moved)
        ev["caches_on_ancestor_listed"] = [hex_addr(a) for a in moved[:MAX_LISTED]]
        ev["pointing_to_ancestor"] = pointing
        ev["refcnt_dead"] = dead
    if own:
        return Reparenting(mech, NOT_REPARENTED, f"{len(own)} caches still on the memcg's own list", ev)
    return Reparenting(mech, REPARENTED, f"own kmem_caches list empty; {len(moved)} of its "
                   "caches found on the nearest online ancestor's list", ev)


def _era_a_caches(memcg: Object, max_steps: int, where: str,
                  faults: List[Fault]) -> List[int]:
    # The per-memcg caches still charging memcg: memcg->kmem_caches (v4.11,
    # bc2791f857e1 "slab: link memcg kmem_caches on their associated memory
    # cgroup"; 4.19 checked), or, before it (4.9), every child cache on
    # slab_caches whose memcg_params.memcg is this memcg.
    prog = memcg.prog_
    me = memcg.value_()
    if layout(prog).reparent.memcg_kmem_caches:
        nodes = walk(memcg.kmem_caches.address_of_(), max_steps, where, faults)
        caches = [container_of(Object(prog, "struct list_head *", pos), "struct kmem_cache",
                               "memcg_params.kmem_caches_node") for pos in nodes]
    else:
        nodes = walk(prog["slab_caches"].address_of_(), max_steps, "slab_caches", faults)
        caches = [container_of(Object(prog, "struct list_head *", pos), "struct kmem_cache",
                               "list") for pos in nodes]
        caches = [s for s in caches if not s.memcg_params.is_root_cache.value_()]
    return [s.value_() for s in caches if s.memcg_params.memcg.value_() == me]
