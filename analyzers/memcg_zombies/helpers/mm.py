"""
Memory-management facts several analyzers read: PAGE_SIZE and a memcg's
``mem_cgroup_per_node`` array.
"""

from typing import List, Tuple

from drgn import Object, Program

__all__ = ("page_size", "nodeinfo")


def page_size(prog: Program) -> int:
    """PAGE_SIZE, from the vmcoreinfo drgn parsed (4096 when unknown)."""
    try:
        return prog["PAGE_SIZE"].value_()
    except (KeyError, ValueError):
        pass
    try:
        return int(prog.constant("PAGE_SIZE"))  # pragma: no cover - older drgn
    except Exception:
        return 4096


def nodeinfo(memcg: Object) -> List[Tuple[int, Object]]:
    """``[(nid, struct mem_cgroup_per_node *)]`` for every allocated node."""
    prog = memcg.prog_
    try:
        nr = prog["nr_node_ids"].value_()
    except KeyError:
        nr = 1
    out = []
    for nid in range(nr):
        pn = memcg.nodeinfo[nid].read_()
        if pn:
            out.append((nid, pn))
    return out
