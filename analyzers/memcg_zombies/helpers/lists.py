"""
Bounded list walks
------------------

``list_for_each`` for memory that may be damaged or filtered: the walk ends at the
head, and a NULL or unreadable ``next``, a cycle that misses the head, or the bound
ends it with a fault instead of a hang or an exception.
"""

from typing import Iterator, List, Optional, Set

from drgn import FaultError, Object, TypeKind, container_of

from memcg_zombies.report import Fault

__all__ = ("MAX_LIST", "list_nodes", "list_entries")

#: Nodes per list before a walk is cut (and a fault recorded), unless a caller
#: knows a tighter bound: far more than any list of a healthy kernel holds, and a
#: bound on a cycle that misses the head.
MAX_LIST = 1 << 20


def list_nodes(head: Object, where: str, bound: int,
               faults: Optional[List[Fault]] = None) -> Iterator[int]:
    """
    Addresses of the nodes of the list at ``head`` (a ``struct list_head`` or a
    pointer to one). What ends the walk early is appended to ``faults``; with
    ``faults=None`` it ends silently (a head known to be possibly stale).
    """
    def fault(error: str, address: Optional[int]) -> None:
        if faults is not None:
            faults.append(Fault(where, error, address))

    prog = head.prog_
    try:
        start = head.value_() if head.type_.kind == TypeKind.POINTER else \
            head.address_of_().value_()
        pos = head.next.value_()
    except FaultError as e:
        fault(str(e), None)
        return
    seen: Set[int] = set()
    while pos != start:
        if not pos or pos in seen:
            fault("list cycle not through head" if pos else "NULL next", pos or None)
            return
        if len(seen) >= bound:
            fault(f"walk bound {bound} reached, list truncated", pos)
            return
        seen.add(pos)
        try:
            following = Object(prog, "struct list_head *", pos).next.value_()
        except FaultError as e:
            fault(str(e), pos)
            return
        yield pos
        pos = following


def list_entries(head: Object, type_name: str, member: str, where: str, bound: int,
                 faults: Optional[List[Fault]] = None) -> Iterator[Object]:
    """``list_for_each_entry`` over :func:`list_nodes`."""
    prog = head.prog_
    for pos in list_nodes(head, where, bound, faults):
        yield container_of(Object(prog, "struct list_head *", pos), type_name, member)
