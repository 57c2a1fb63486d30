"""
What the mechanisms' verdicts share: the verdict words, the bounds on list walks
and on evidence, bounded list reads, and the nearest online ancestor (where a
dying memcg's charges end up).
"""

from typing import List, Optional

from drgn import FaultError, Object, container_of

from memcg_zombies.helpers.lists import list_nodes
from memcg_zombies.layout import layout
from memcg_zombies.report import Fault

__all__ = (
    "REPARENTED",
    "NOT_REPARENTED",
    "PARTIAL",
    "NOT_IN_KERNEL",
    "UNKNOWN",
    "MAX_STEPS",
    "MAX_LISTED",
    "hex_addr",
    "walk",
    "list_empty",
    "list_poisoned",
    "nearest_online_ancestor",
    "online_ancestor",
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


def hex_addr(value: int) -> str:
    return hex(value)


def walk(head: Object, max_steps: int, where: str, faults: List[Fault]) -> List[int]:
    # Addresses of the nodes of the list at head (a struct list_head *).
    return list(list_nodes(head, where, max_steps, faults))


def list_empty(head: Object) -> bool:
    return head.next.value_() == head.address_of_().value_()


def list_poisoned(head: Object) -> bool:
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


def online_ancestor(memcg: Object) -> Optional[Object]:
    try:
        return nearest_online_ancestor(memcg)
    except FaultError:
        return None
