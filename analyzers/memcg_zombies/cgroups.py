"""
Memory cgroups, dying ones included
-----------------------------------

A memcg css stays on its parent's ``children`` list from creation until
css_release_work_fn() does ``list_del_rcu(&css->sibling)``, i.e. through the
whole offline ("dying", "zombie") period. So walking ``css.children`` /
``css.sibling`` from ``root_mem_cgroup->css`` finds every memcg that still
exists. drgn's own css iterators are not used: drgn 0.0.22 skips offline css.

Every list walk is bounded and cycle-checked; what cannot be read is recorded
as a :class:`~memcg_zombies.report.Fault` and the walk goes on elsewhere.

From a drgn session::

    >>> from memcg_zombies.cgroups import for_each_memcg, memcg_state, memcg_path
    >>> for memcg in for_each_memcg(prog):
    ...     if memcg_state(memcg) == "dying":
    ...         print(memcg_path(memcg))
"""

from typing import Callable, Dict, Iterator, List, Optional, Set, TypeVar

from drgn import FaultError, Object, Program, container_of

from memcg_zombies.faults import guarded
from memcg_zombies.helpers.memcg import memcg_hierarchy
from memcg_zombies.layout import layout
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.report import Fault, KernelInfo, MemcgEntry, Report

__all__ = (
    "MemcgUnavailable",
    "root_mem_cgroup",
    "for_each_memcg",
    "css_state",
    "memcg_state",
    "memcg_path",
    "memcg_cgroup_id",
    "memcg_entry",
    "memcg_report",
)

#: Upper bound on memcgs visited (list steps) in one walk. The kernel caps
#: memcg ids at 65535 (MEM_CGROUP_ID_MAX), but dying memcgs that lost their
#: id can exceed that, so leave plenty of room.
DEFAULT_MAX_MEMCGS = 1 << 20

#: kernfs nesting cannot get anywhere near this (paths are < PATH_MAX).
_MAX_PATH_DEPTH = 4096

T = TypeVar("T")


class MemcgUnavailable(LookupError):
    """The kernel has no memory cgroups: not built in, or disabled at boot."""


def root_mem_cgroup(prog: Program) -> Object:
    """
    ``root_mem_cgroup``, or :class:`MemcgUnavailable` if there is none.
    """
    try:
        root = prog["root_mem_cgroup"].read_()
    except KeyError:
        raise MemcgUnavailable(
            "kernel has no memory cgroup support (no root_mem_cgroup symbol)"
        ) from None
    if not root:
        raise MemcgUnavailable("memory cgroup is disabled (root_mem_cgroup is NULL)")
    if layout(prog).memcg_enabled() is False:
        raise MemcgUnavailable(
            "memory cgroup is disabled (cgroup_disable=memory at boot)"
        )
    return root


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps


def _css_children(
    css: Object, budget: _Budget, faults: List[Fault]
) -> Iterator[Object]:
    # Like list_for_each_entry(css, &parent->children, sibling), but a list
    # that does not come back to its head, or runs into unreadable memory,
    # ends with a fault instead of hanging or raising. The list is doubly
    # linked, so after a break the rest is recovered walking back from the
    # head through ->prev (dumps with excluded pages break lists often).
    prog = css.prog_
    where = f"children of css {css.value_():#x}"
    try:
        head = css.children.address_of_().value_()
        pos = css.children.next.value_()
    except FaultError as e:
        faults.append(Fault(where, str(e), css.value_()))
        return
    seen: Set[int] = set()
    done = [False]
    for pos in _list_walk(prog, head, pos, "next", seen, budget, faults, where, done):
        yield container_of(Object(prog, "struct list_head *", pos),
                           "struct cgroup_subsys_state", "sibling")
    if done[0]:
        return
    try:
        pos = Object(prog, "struct list_head *", head).prev.value_()
    except FaultError:
        return
    tail = list(_list_walk(prog, head, pos, "prev", seen, budget, faults, where, [False]))
    for pos in reversed(tail):
        yield container_of(Object(prog, "struct list_head *", pos),
                           "struct cgroup_subsys_state", "sibling")


def _list_walk(
    prog: Program, head: int, pos: int, direction: str, seen: Set[int],
    budget: _Budget, faults: List[Fault], where: str, done: List[bool],
) -> Iterator[int]:
    # Yield node addresses from pos following direction ("next"/"prev")
    # until head, then set done[0]. Going back, stop quietly at a node seen
    # going forward: that is where the two walks meet.
    while True:
        if pos == head:
            done[0] = True
            return
        if not pos:
            faults.append(Fault(where, f"NULL {direction} pointer"))
            return
        if pos in seen:
            if direction == "next":
                faults.append(Fault(where, "list cycle not through head", pos))
            return
        if budget.left <= 0:
            faults.append(Fault(where, "walk bound reached, list truncated", pos))
            return
        budget.left -= 1
        seen.add(pos)
        # Read on before yielding: an unreadable node is one fault, here.
        try:
            following = getattr(Object(prog, "struct list_head *", pos), direction).value_()
        except FaultError as e:
            if direction == "next":
                faults.append(Fault(where, str(e), pos))
            return
        yield pos
        pos = following


def for_each_memcg(
    prog: Program,
    faults: Optional[List[Fault]] = None,
    max_memcgs: int = DEFAULT_MAX_MEMCGS,
) -> Iterator[Object]:
    """
    Iterate over all memory cgroups, online, dying and not yet freed, in
    pre-order starting at ``root_mem_cgroup``.

    :param faults: list to append :class:`~memcg_zombies.report.Fault` records
        to; when None they are dropped.
    :param max_memcgs: bound on the number of list steps.
    :return: Iterator of ``struct mem_cgroup *`` objects.
    :raises MemcgUnavailable: if the kernel has no memory cgroups
    """
    if faults is None:
        faults = []
    root = root_mem_cgroup(prog)
    budget = _Budget(max_memcgs)
    seen = {root.css.address_of_().value_()}
    yield root
    stack = [(root.css.address_of_(), _css_children(root.css.address_of_(), budget, faults))]
    while stack:
        parent, children = stack[-1]
        css = next(children, None)
        if css is None:
            stack.pop()
            continue
        addr = css.value_()
        if addr in seen:
            # Reachable twice: the lists are corrupted. Do not descend again.
            faults.append(Fault(f"children of css {parent.value_():#x}",
                                "css reached twice", addr))
            continue
        seen.add(addr)
        try:
            # A node whose parent pointer disagrees is not a child of this
            # list: garbage or a corrupted list. Skip it and its subtree.
            if css.parent.value_() != parent.value_():
                faults.append(Fault(f"children of css {parent.value_():#x}",
                                    f"css.parent is {css.parent.value_():#x}, not the list owner",
                                    addr))
                continue
        except FaultError as e:
            faults.append(Fault(f"children of css {parent.value_():#x}", str(e), addr))
            continue
        yield container_of(css, "struct mem_cgroup", "css")
        stack.append((css, _css_children(css, budget, faults)))


def css_state(css: Object) -> str:
    """
    "online" (CSS_ONLINE), "released" (CSS_RELEASED) or "dying" (neither: offlined,
    waiting for its last reference) for a ``struct cgroup_subsys_state *``.
    """
    lay = layout(css.prog_)
    flags = css.flags.value_()
    if flags & lay.cgroup.CSS_ONLINE:
        return "online"
    if flags & lay.cgroup.CSS_RELEASED:
        return "released"
    return "dying"


def memcg_state(memcg: Object) -> str:
    """:func:`css_state` of a ``struct mem_cgroup *``."""
    return css_state(memcg.css.address_of_())


def memcg_path(memcg: Object) -> str:
    """
    Path of a memcg's cgroup below its hierarchy's root, e.g. "/a/b".

    Works after rmdir: __kernfs_remove() only unlinks the node from its
    parent's rbtree; the cgroup keeps its kernfs node (kernfs_get in
    cgroup_create) and a node keeps its parent until it is freed, so the
    parent chain and names stay valid while the cgroup exists.
    """
    lay = layout(memcg.prog_)
    kn = memcg.css.cgroup.kn.read_()
    names: List[str] = []
    seen: Set[int] = set()
    while True:
        parent = lay.cgroup.kn_parent_of(kn).read_()
        if not parent:
            break  # the hierarchy root, whose name is ""
        if kn.value_() in seen or len(names) >= _MAX_PATH_DEPTH:
            raise ValueError(f"kernfs parent chain loops at {kn.value_():#x}")
        seen.add(kn.value_())
        names.append(kn.name.string_().decode(errors="backslashreplace"))
        kn = parent
    return "/" + "/".join(reversed(names))


def memcg_cgroup_id(memcg: Object) -> Optional[int]:
    """``cgroup_id()`` of the memcg's cgroup: its kernfs node id."""
    return layout(memcg.prog_).cgroup.kn_id_of(memcg.css.cgroup.kn)


def _try(failed: List[Fault], what: str, fn: Callable[[], T]) -> Optional[T]:
    # The one guard (faults.py), collecting: memcg_entry() makes one fault of them.
    return guarded(failed, what, fn, None)


def memcg_entry(
    memcg: Object, faults: Optional[List[Fault]] = None, level: int = 0
) -> MemcgEntry:
    """
    Read one ``struct mem_cgroup *`` into a report entry. Fields that cannot
    be read are None, and one fault per memcg names them.
    """
    if faults is None:
        faults = []
    lay = layout(memcg.prog_)
    address = memcg.value_()
    css = memcg.css
    cgrp = css.cgroup
    failed: List[Fault] = []

    ref = _try(failed, "css.refcnt", lambda: percpu_ref_read(css.refcnt, sum_percpu=False))

    def dying_subsys() -> Optional[int]:
        if not lay.cgroup.has_nr_dying_subsys or lay.cgroup.memory_cgrp_id is None:
            return None
        return cgrp.nr_dying_subsys[lay.cgroup.memory_cgrp_id].value_()

    entry = MemcgEntry(
        address=address,
        path=_try(failed, "path", lambda: memcg_path(memcg)),
        cgroup_id=_try(failed, "cgroup id", lambda: memcg_cgroup_id(memcg)),
        css_id=_try(failed, "css.id", lambda: css.id.value_()),
        state=_try(failed, "css.flags", lambda: memcg_state(memcg)),
        flags=_try(failed, "css.flags", lambda: css.flags.value_()),
        refcnt_dead=None if ref is None else ref.dead,
        refcnt=None if ref is None else ref.count,
        nr_dying_descendants=_try(
            failed, "cgroup.nr_dying_descendants",
            lambda: cgrp.nr_dying_descendants.value_()
            if lay.cgroup.has_nr_dying_descendants else None),
        nr_dying_subsys_memory=_try(failed, "cgroup.nr_dying_subsys", dying_subsys),
        level=level,
        cgroup_online=_try(failed, "cgroup.self.flags",
                           lambda: bool(cgrp.self.flags.value_() & lay.cgroup.CSS_ONLINE)),
    )
    if failed:
        fields = ", ".join(dict.fromkeys(f.where for f in failed))
        faults.append(Fault(f"memcg {address:#x}", f"unreadable {fields}: {failed[0].error}",
                            address))
    return entry


def _hierarchy(root: Object) -> Optional[str]:
    try:
        return memcg_hierarchy(root)
    except FaultError:
        return None


def kernel_release(prog: Program) -> Optional[str]:
    """``init_uts_ns.name.release`` as read from memory."""
    try:
        return prog["init_uts_ns"].name.release.string_().decode(errors="replace")
    except (KeyError, FaultError):
        return None


def memcg_report(prog: Program, max_memcgs: int = DEFAULT_MAX_MEMCGS) -> Report:
    """
    Walk all memcgs and build the :class:`~memcg_zombies.report.Report`.

    :raises MemcgUnavailable: if the kernel has no memory cgroups
    """
    lay = layout(prog)
    root = root_mem_cgroup(prog)
    report = Report(KernelInfo(kernel_release(prog), _hierarchy(root), lay.facts()))
    faults = report.faults
    # Depth from css.parent chain lengths seen so far (pre-order: parents first).
    depth: Dict[int, int] = {}
    for memcg in for_each_memcg(prog, faults, max_memcgs):
        css_addr = memcg.css.address_of_().value_()
        parent = memcg.css.parent.value_() if css_addr != root.css.address_of_().value_() else 0
        level = depth.get(parent, -1) + 1
        depth[css_addr] = level
        report.memcgs.append(memcg_entry(memcg, faults, level))

    s = report.summary
    s.total = len(report.memcgs)
    for m in report.memcgs:
        if m.state == "online":
            s.online += 1
        elif m.state == "dying":
            s.dying += 1
        elif m.state == "released":
            s.released += 1
        else:
            s.unknown += 1
    if report.memcgs:
        s.root_nr_dying_descendants = report.memcgs[0].nr_dying_descendants
        s.root_nr_dying_subsys_memory = report.memcgs[0].nr_dying_subsys_memory
    s.faults = len(faults)
    return report
