"""
Reparenting verdicts
--------------------

At offline the kernel hands some of a memcg's charges to its parent
(docs/kernel-eras.md sections 0, 2, 3, 5). For one dying memcg, :func:`memcg_reparenting`
returns one :class:`~memcg_zombies.report.Reparenting` per mechanism, in this
order, each decided by its own module:

- ``kmem_caches`` (:mod:`.kmem_caches`): per-memcg slab caches moved to the
  parent (v5.3..v5.8; before v5.3 they are never moved: "not reparented")
- ``objcg`` (:mod:`.objcg`): the memcg's obj_cgroup(s) now point to an ancestor
  (v5.9+; per node since v7.1)
- ``list_lru`` (:mod:`.list_lru`): the memcg's list_lru lists spliced into the
  parent's
- ``lru_folios`` (:mod:`.lru_folios`): LRU folios spliced into the parent's
  lruvec (v7.1+)
- ``deferred_split`` (:mod:`.deferred_split`): the THP deferred split queue
  moved (v6.19+)

Verdicts are "reparented", "not reparented", "partial", "not in this kernel"
or "unknown", each with a reason and evidence (addresses as hex strings).
:mod:`.common` holds what they share (verdict words, bounds, bounded list
reads, the nearest online ancestor). Every list walk is bounded; a dying memcg's
own ``objcg_list`` head is never walked (it is stale on 6.1/6.12:
docs/kernel-eras.md section 9).
"""

from typing import Any, Dict, List, Optional

from drgn import Object

from memcg_zombies.faults import warn_on_fault
from memcg_zombies.reparent.common import (
    MAX_STEPS, NOT_IN_KERNEL, NOT_REPARENTED, PARTIAL, REPARENTED, UNKNOWN,
    nearest_online_ancestor)
from memcg_zombies.reparent.deferred_split import deferred_split_verdict
from memcg_zombies.reparent.kmem_caches import kmem_caches_verdict
from memcg_zombies.reparent.list_lru import list_lru_verdict
from memcg_zombies.reparent.lru_folios import lru_folios_verdict
from memcg_zombies.reparent.objcg import objcg_verdict
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
