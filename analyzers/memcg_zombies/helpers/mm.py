"""
Memory-management facts several analyzers read: PAGE_SIZE and a memcg's
``mem_cgroup_per_node`` array.
"""

from typing import List, Tuple

from drgn import Object, Program

from memcg_zombies.layout import per_program

__all__ = ("page_size", "nodeinfo")


def _page_size(prog: Program) -> int:
    try:
        return prog["PAGE_SIZE"].value_()  # drgn: from VMCOREINFO, or the arch's
    except (KeyError, ValueError):
        pass
    try:
        return int(prog.constant("PAGE_SIZE"))  # older drgn
    except Exception:
        return 4096


def page_size(prog: Program) -> int:
    """PAGE_SIZE (4096 when unknown). Not sizeof(struct page): that is
    ``layout(prog).memmap.page_struct_size``."""
    return per_program(prog, "PAGE_SIZE", lambda: _page_size(prog))


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
