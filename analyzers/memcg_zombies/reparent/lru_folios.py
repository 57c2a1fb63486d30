"""
LRU folios (``lru_folios``), v7.1+
----------------------------------

v7.1 splices a dying memcg's LRU lists into the parent's at offline
(lru_reparent_memcg(), the LRU-to-objcg reparenting series); before, LRU folios
stay on the dead memcg's lists until freed: "not in this kernel". MGLRU (v6.1)
lists are ``lrugen->lists[]``, ``lrugen->folios[]`` since v6.3 (6df1b2212950).
"""

from typing import List

from drgn import Object

from memcg_zombies.helpers.mm import nodeinfo
from memcg_zombies.layout import layout
from memcg_zombies.reparent.common import (
    MAX_LISTED, NOT_IN_KERNEL, NOT_REPARENTED, REPARENTED, list_empty, list_poisoned)
from memcg_zombies.report import Fault, Reparenting

__all__ = ("lru_folios_verdict",)


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
            if list_poisoned(head):
                # v5.18+ lruvec_init(): the unevictable "list" is imaginary,
                # its head poisoned, so mlock_count can reuse folio->lru.
                imaginary.append(f"node{nid}.lists[{i}]")
            elif not list_empty(head):
                nonempty.append(f"node{nid}.lists[{i}]")
        if lay.reparent.lru_gen:
            gens = lruvec.lrugen
            assert lay.reparent.lru_gen_lists is not None  # Layout sets it whenever lru_gen
            lists = getattr(gens, lay.reparent.lru_gen_lists)  # folios[] since v6.3
            for g in range(len(lists)):
                for t in range(len(lists[g])):
                    for z in range(len(lists[g][t])):
                        if not list_empty(lists[g][t][z]):
                            nonempty.append(f"node{nid}.lrugen[{g}][{t}][{z}]")
    ev = {"nodes": len(nodes), "nonempty_lists": nonempty[:MAX_LISTED],
          "nonempty_count": len(nonempty), "poisoned_heads": imaginary}
    if not lay.reparent.lru_reparent:
        return Reparenting(mech, NOT_IN_KERNEL, "LRU folios stay with the dead memcg before v7.1 "
                       f"({len(nonempty)} non-empty LRU lists)", ev)
    if not nonempty:
        return Reparenting(mech, REPARENTED, "every LRU list of the memcg is empty", ev)
    return Reparenting(mech, NOT_REPARENTED, f"{len(nonempty)} LRU lists still hold folios", ev)
