"""
Deferred THP split queue (``deferred_split``), v6.19+
-----------------------------------------------------

A per-memcg queue since v5.4 ("mm: thp: make deferred split shrinker memcg
aware"; without it: "not in this kernel"), moved to the parent at offline since
v6.19 (reparent_deferred_split_queue()).
"""

from typing import List

from drgn import Object

from memcg_zombies.layout import layout
from memcg_zombies.reparent.common import NOT_IN_KERNEL, NOT_REPARENTED, REPARENTED, list_empty
from memcg_zombies.report import Fault, Reparenting

__all__ = ("deferred_split_verdict",)


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
          "list_empty": list_empty(q.split_queue)}
    if not lay.reparent.deferred_split_reparent:
        return Reparenting(mech, NOT_IN_KERNEL, "queue not reparented before v6.19 "
                       f"({ev['split_queue_len']} THPs queued on the dead memcg)", ev)
    if ev["list_empty"] and not ev["split_queue_len"]:
        return Reparenting(mech, REPARENTED, "deferred split queue empty", ev)
    return Reparenting(mech, NOT_REPARENTED, "deferred split queue still holds THPs", ev)
