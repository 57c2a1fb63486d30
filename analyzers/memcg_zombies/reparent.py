"""
Reparenting verdicts
--------------------

At offline the kernel hands some of a memcg's charges to its parent
(docs/kernel-eras.md sections 0, 2, 3, 5). For one dying memcg, :func:`memcg_reparenting`
returns one :class:`~memcg_zombies.report.Reparenting` per mechanism:

- ``kmem_caches``: per-memcg slab caches moved to the parent (v5.3..v5.8;
  before v5.3 they are never moved: "not reparented")
- ``objcg``: the memcg's obj_cgroup(s) now point to an ancestor (v5.9+;
  per node since v7.1)
- ``list_lru``: the memcg's list_lru lists spliced into the parent's
- ``lru_folios``: LRU folios spliced into the parent's lruvec (v7.1+)
- ``deferred_split``: the THP deferred split queue moved (v6.19+)

Verdicts are "reparented", "not reparented", "partial", "not in this kernel"
or "unknown", each with a reason and evidence (addresses as hex strings).
Every list walk is bounded; a dying memcg's own ``objcg_list`` head is never
walked (it is stale on 6.1/6.12: docs/kernel-eras.md section 9).
"""

from typing import Any, Dict, List, Optional

from drgn import FaultError, Object, Program, container_of
from drgn.helpers.linux.xarray import xa_load

from memcg_zombies.faults import warn_on_fault
from memcg_zombies.helpers.lists import list_nodes
from memcg_zombies.helpers.memcg import memcg_private_id
from memcg_zombies.helpers.mm import nodeinfo
from memcg_zombies.layout import layout
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.report import Fault, Reparenting

__all__ = (
    "REPARENTED",
    "NOT_REPARENTED",
    "PARTIAL",
    "NOT_IN_KERNEL",
    "UNKNOWN",
    "memcg_reparenting",
    "nearest_online_ancestor",
    "kmem_caches_verdict",
    "objcg_verdict",
    "list_lru_verdict",
    "lru_folios_verdict",
    "deferred_split_verdict",
)

REPARENTED = "reparented"
NOT_REPARENTED = "not reparented"
PARTIAL = "partial"
NOT_IN_KERNEL = "not in this kernel"
UNKNOWN = "unknown"

#: Default bound on list steps in one walk.
MAX_STEPS = 100000
#: At most this many addresses are listed in evidence.
MAX_LISTED = 16


def _hex(value: int) -> str:
    return hex(value)


def _walk(head: Object, max_steps: int, where: str, faults: List[Fault]) -> List[int]:
    # Addresses of the nodes of the list at head (a struct list_head *).
    return list(list_nodes(head, where, max_steps, faults))


def _list_empty(head: Object) -> bool:
    return head.next.value_() == head.address_of_().value_()


def _poisoned(head: Object) -> bool:
    # LIST_POISON1/2 are POISON_POINTER_DELTA + 0x100 / + 0x122 (the delta
    # is per architecture, 0xdead000000000000 on x86-64).
    nxt, prev = head.next.value_(), head.prev.value_()
    return (nxt & 0xFFF) == 0x100 and prev == nxt + 0x22


def nearest_online_ancestor(memcg: Object) -> Optional[Object]:
    """The closest ancestor whose css is CSS_ONLINE (bounded walk), or None."""
    lay = layout(memcg.prog_)
    css = memcg.css.parent.read_()
    for _ in range(4096):
        if not css:
            return None
        if css.flags.value_() & lay.cgroup.CSS_ONLINE:
            return container_of(css, "struct mem_cgroup", "css")
        css = css.parent.read_()
    return None


def _ancestor(memcg: Object) -> Optional[Object]:
    try:
        return nearest_online_ancestor(memcg)
    except FaultError:
        return None


# -- (a) per-memcg kmem caches, v5.3..v5.8 ---------------------------------


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
                              "caches_listed": [_hex(a) for a in own[:MAX_LISTED]]}
        for f, present in (("kmemcg_id", lay.reparent.memcg_kmemcg_id),
                           ("kmem_state", lay.reparent.memcg_kmem_state)):
            if present:
                ev[f] = getattr(memcg, f).value_()
        how = "before v5.3 per-memcg caches are only deactivated, never reparented"
        if own:
            return Reparenting(mech, NOT_REPARENTED, f"{len(own)} caches still charge the memcg "
                           f"({how})", ev)
        return Reparenting(mech, NOT_REPARENTED, f"no per-memcg caches left ({how})", ev)
    own = _walk(memcg.kmem_caches.address_of_(), max_steps, where, faults)
    ev = {"own_caches": len(own), "serial_nr": serial}
    anc = _ancestor(memcg)
    moved: List[int] = []
    if anc is not None:
        ev["ancestor"] = _hex(anc.value_())
        tag = f"({serial}:".encode()
        pointing = dead = 0
        for pos in _walk(anc.kmem_caches.address_of_(), max_steps,
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
        ev["caches_on_ancestor_listed"] = [_hex(a) for a in moved[:MAX_LISTED]]
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
        nodes = _walk(memcg.kmem_caches.address_of_(), max_steps, where, faults)
        caches = [container_of(Object(prog, "struct list_head *", pos), "struct kmem_cache",
                               "memcg_params.kmem_caches_node") for pos in nodes]
    else:
        nodes = _walk(prog["slab_caches"].address_of_(), max_steps, "slab_caches", faults)
        caches = [container_of(Object(prog, "struct list_head *", pos), "struct kmem_cache",
                               "list") for pos in nodes]
        caches = [s for s in caches if not s.memcg_params.is_root_cache.value_()]
    return [s.value_() for s in caches if s.memcg_params.memcg.value_() == me]


# -- (b) obj_cgroup, v5.9+ --------------------------------------------------


def _objcg_info(objcg: Object) -> Dict[str, Any]:
    ref = percpu_ref_read(objcg.refcnt)
    return {"address": _hex(objcg.value_()), "memcg": _hex(objcg.memcg.value_()),
            "refcnt": ref.count, "dead": ref.dead}


def _objcgs_on(ancestor: Object, objcg_list: Object, max_steps: int,
               faults: List[Fault]) -> Dict[str, Any]:
    # The objcgs spliced onto a live ancestor's list: they all point to it.
    prog = ancestor.prog_
    where = f"objcg_list of memcg {ancestor.value_():#x}"
    nodes = _walk(objcg_list.address_of_(), max_steps, where, faults)
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
            "listed": [_hex(a) for a in addrs[:MAX_LISTED]], "addresses": frozenset(addrs)}


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
    anc = _ancestor(memcg)
    ev: Dict[str, Any] = {"ancestor": None if anc is None else _hex(anc.value_())}
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
        d: Dict[str, Any] = {"objcg": _hex(objcg.value_())}
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


# -- (c) list_lru ---------------------------------------------------------


def _memcg_lrus(prog: Program, max_steps: int, faults: List[Fault]) -> List[Object]:
    lay = layout(prog)
    assert lay.reparent.list_lru_head is not None  # list_lru_verdict() returns early without one
    head = prog[lay.reparent.list_lru_head].address_of_()
    out = []
    for pos in _walk(head, max_steps, lay.reparent.list_lru_head, faults):
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
    anc = _ancestor(memcg)
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
              listed=[_hex(a) for a in live[:MAX_LISTED]])
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


# -- (d) LRU folios, v7.1+ --------------------------------------------------


def lru_folios_verdict(memcg: Object, faults: List[Fault]) -> Reparenting:
    """
    v7.1+: lru_reparent_memcg() / lru_gen_reparent_memcg() splice the memcg's
    LRU lists into the parent's at offline, so every ``lruvec.lists[]`` (and
    MGLRU ``lrugen.folios[][][]``) of the dead memcg is empty. Before, LRU
    folios stay on the dead memcg's lists until freed.
    """
    lay = layout(memcg.prog_)
    mech = "lru_folios"
    nonempty: List[str] = []
    imaginary: List[str] = []
    nodes = nodeinfo(memcg)
    for nid, pn in nodes:
        lruvec = pn.lruvec
        for i in range(len(lruvec.lists)):
            head = lruvec.lists[i]
            if _poisoned(head):
                # v5.18+ lruvec_init(): the unevictable "list" is imaginary,
                # its head poisoned, so mlock_count can reuse folio->lru.
                imaginary.append(f"node{nid}.lists[{i}]")
            elif not _list_empty(head):
                nonempty.append(f"node{nid}.lists[{i}]")
        if lay.reparent.lru_gen:
            gens = lruvec.lrugen
            assert lay.reparent.lru_gen_lists is not None  # Layout sets it whenever lru_gen
            lists = getattr(gens, lay.reparent.lru_gen_lists)  # folios[] since v6.3
            for g in range(len(lists)):
                for t in range(len(lists[g])):
                    for z in range(len(lists[g][t])):
                        if not _list_empty(lists[g][t][z]):
                            nonempty.append(f"node{nid}.lrugen[{g}][{t}][{z}]")
    ev = {"nodes": len(nodes), "nonempty_lists": nonempty[:MAX_LISTED],
          "nonempty_count": len(nonempty), "poisoned_heads": imaginary}
    if not lay.reparent.lru_reparent:
        return Reparenting(mech, NOT_IN_KERNEL, "LRU folios stay with the dead memcg before v7.1 "
                       f"({len(nonempty)} non-empty LRU lists)", ev)
    if not nonempty:
        return Reparenting(mech, REPARENTED, "every LRU list of the memcg is empty", ev)
    return Reparenting(mech, NOT_REPARENTED, f"{len(nonempty)} LRU lists still hold folios", ev)


# -- (e) deferred split queue -------------------------------------------------


def deferred_split_verdict(memcg: Object, faults: List[Fault]) -> Reparenting:
    """
    v6.19 reparents ``memcg->deferred_split_queue`` at offline
    (reparent_deferred_split_queue); before, partially mapped THPs stay
    queued on the dead memcg.
    """
    lay = layout(memcg.prog_)
    mech = "deferred_split"
    if not lay.reparent.memcg_deferred_split:
        return Reparenting(mech, NOT_IN_KERNEL, "no per-memcg deferred split queue")
    q = memcg.deferred_split_queue
    ev = {"split_queue_len": q.split_queue_len.value_(),
          "list_empty": _list_empty(q.split_queue)}
    if not lay.reparent.deferred_split_reparent:
        return Reparenting(mech, NOT_IN_KERNEL, "queue not reparented before v6.19 "
                       f"({ev['split_queue_len']} THPs queued on the dead memcg)", ev)
    if ev["list_empty"] and not ev["split_queue_len"]:
        return Reparenting(mech, REPARENTED, "deferred split queue empty", ev)
    return Reparenting(mech, NOT_REPARENTED, "deferred split queue still holds THPs", ev)


def _guard(mech: str, faults: List[Fault], memcg: Object, fn, *args) -> Reparenting:
    with warn_on_fault(faults, f"{mech} of memcg {memcg.value_():#x}",
                       memcg.value_()) as caught:
        return fn(memcg, faults, *args)
    return Reparenting(mech, UNKNOWN, f"unreadable: {caught.error}")


def memcg_reparenting(memcg: Object, faults: Optional[List[Fault]] = None,
                      max_steps: int = MAX_STEPS,
                      cache: Optional[Dict[Any, Any]] = None) -> List[Reparenting]:
    """
    One :class:`Reparenting` per mechanism for a dying ``struct mem_cgroup *``. Pass
    the same ``cache`` dict for every memcg of one report: lists shared by siblings
    (an ancestor's objcg_list, the global list of memcg-aware lrus) are then
    walked once.
    """
    if faults is None:
        faults = []
    return [
        _guard("kmem_caches", faults, memcg, kmem_caches_verdict, max_steps),
        _guard("objcg", faults, memcg, objcg_verdict, max_steps, cache),
        _guard("list_lru", faults, memcg, list_lru_verdict, max_steps, cache),
        _guard("lru_folios", faults, memcg, lru_folios_verdict),
        _guard("deferred_split", faults, memcg, deferred_split_verdict),
    ]
