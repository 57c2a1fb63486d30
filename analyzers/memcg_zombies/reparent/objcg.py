"""
obj_cgroup (``objcg``), v5.9+
-----------------------------

v5.9 ("mm: memcg/slab: obj_cgroup API", with ``memcg->objcg_list``,
bf4f059954dc) charges slab objects to an obj_cgroup that offline points at the
parent (memcg_reparent_objcgs()); before v5.9 there is no objcg: "not in this
kernel". v6.8 keeps ``orig_objcg``; the v7.1 LRU-to-objcg reparenting series
moved objcg, orig_objcg and objcg_list per node. A dying memcg's own
``objcg_list`` head is never walked (stale after the splice on 6.1/6.12:
docs/kernel-eras.md section 9); the ancestor's list is.
"""

from typing import Any, Dict, List, Optional

from drgn import FaultError, Object, container_of

from memcg_zombies.helpers.mm import nodeinfo
from memcg_zombies.layout import layout
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.reparent.common import (
    MAX_LISTED, MAX_STEPS, NOT_IN_KERNEL, NOT_REPARENTED, PARTIAL, REPARENTED, hex_addr,
    online_ancestor, walk)
from memcg_zombies.report import Fault, Reparenting

__all__ = ("objcg_verdict",)


def _objcg_info(objcg: Object) -> Dict[str, Any]:
    ref = percpu_ref_read(objcg.refcnt)
    return {"address": hex_addr(objcg.value_()), "memcg": hex_addr(objcg.memcg.value_()),
            "refcnt": ref.count, "dead": ref.dead}


def _objcgs_on(ancestor: Object, objcg_list: Object, max_steps: int,
               faults: List[Fault]) -> Dict[str, Any]:
    # The objcgs spliced onto a live ancestor's list: they all point to it.
    prog = ancestor.prog_
    where = f"objcg_list of memcg {ancestor.value_():#x}"
    nodes = walk(objcg_list.address_of_(), max_steps, where, faults)
    addrs = []
    pointing = dead = 0
    for pos in nodes:
        objcg = container_of(Object(prog, "struct list_head *", pos), "struct obj_cgroup", "list")
        addrs.append(objcg.value_())
        try:
            if objcg.memcg.value_() == ancestor.value_():
                pointing += 1
            if percpu_ref_read(objcg.refcnt, sum_percpu=False).dead:
                dead += 1
        except FaultError as e:
            faults.append(Fault(where, str(e), objcg.value_()))
    return {"count": len(addrs), "pointing_to_ancestor": pointing, "dead": dead,
            "listed": [hex_addr(a) for a in addrs[:MAX_LISTED]], "addresses": frozenset(addrs)}


def objcg_verdict(memcg: Object, faults: List[Fault], max_steps: int = MAX_STEPS,
                  cache: Optional[Dict[Any, Any]] = None) -> Reparenting:
    """
    v5.9..v7.0: memcg_reparent_objcgs() set ``memcg->objcg`` to NULL, pointed
    every objcg on the memcg's list at the parent and spliced them onto the
    parent's ``objcg_list``; objcgs end up on the nearest online ancestor.
    v6.8+ keeps ``orig_objcg``, whose ``memcg`` then is that ancestor. v7.1
    does the same per node (``nodeinfo[n]->objcg/orig_objcg``).
    """
    lay = layout(memcg.prog_)
    mech = "objcg"
    if lay.reparent.objcg is None:
        return Reparenting(mech, NOT_IN_KERNEL, "no obj_cgroup in this kernel (before v5.9)")
    anc = online_ancestor(memcg)
    ev: Dict[str, Any] = {"ancestor": None if anc is None else hex_addr(anc.value_())}
    me = memcg.value_()

    if lay.reparent.objcg == "per_node":
        holders = [(f"node{nid}", pn) for nid, pn in nodeinfo(memcg)]
        anc_lists = [] if anc is None else [pn for _, pn in nodeinfo(anc)]
    else:
        holders = [("memcg", memcg)]
        anc_lists = [] if anc is None else [anc]

    done = 0
    per: Dict[str, Any] = {}
    for name, h in holders:
        objcg = h.objcg.read_()
        d: Dict[str, Any] = {"objcg": hex_addr(objcg.value_())}
        ok = not objcg
        if lay.reparent.orig_objcg:
            orig = h.orig_objcg.read_()
            if orig:
                info = _objcg_info(orig)
                d["orig_objcg"] = info
                d["orig_points_to_ancestor"] = (
                    anc is not None and orig.memcg.value_() == anc.value_())
                ok = ok and orig.memcg.value_() != me
            else:
                d["orig_objcg"] = None
        per[name] = d
        done += ok
    ev["holders"] = per

    # Objcgs now owned by the ancestor: from its list (the dying memcg's own
    # head is stale after the splice, so never walk it).
    if anc_lists:
        total: Dict[str, Any] = {"count": 0, "pointing_to_ancestor": 0, "dead": 0, "listed": []}
        mine = []  # the lists' address sets, shared through the cache: never copied
        for h in anc_lists:
            # Siblings share the ancestor: walk each list once per report (1,000
            # zombies under one parent would otherwise read 10^6 objcgs).
            key = h.objcg_list.address_of_().value_()
            got = cache.get(key) if cache is not None else None
            if got is None:
                got = _objcgs_on(anc, h.objcg_list, max_steps, faults)
                if cache is not None:
                    cache[key] = got
            for k in ("count", "pointing_to_ancestor", "dead"):
                total[k] += got[k]
            total["listed"] += got["listed"]
            mine.append(got["addresses"])
        total["listed"] = total["listed"][:MAX_LISTED]
        if lay.reparent.orig_objcg:
            origs = [int(d["orig_objcg"]["address"], 16) for d in per.values()
                     if d.get("orig_objcg")]
            total["orig_objcg_on_ancestor_list"] = sum(any(a in m for m in mine) for a in origs)
        ev["ancestor_objcg_list"] = total

    n = len(holders)
    if done == n:
        how = "objcg NULL" + (", orig_objcg->memcg is an ancestor" if lay.reparent.orig_objcg else "")
        return Reparenting(mech, REPARENTED, f"{how} ({n} holder{'s' if n > 1 else ''})", ev)
    if done == 0:
        return Reparenting(mech, NOT_REPARENTED, "objcg still attached to the memcg "
                       "(offline not finished?)", ev)
    return Reparenting(mech, PARTIAL, f"{done} of {n} nodes reparented", ev)
