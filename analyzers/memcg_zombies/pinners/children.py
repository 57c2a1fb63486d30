"""
Child cgroups of a dying memcg
------------------------------

Every css holds a reference on its parent css from creation (css_get(parent)
in init_and_link_css) until css_free_rwork_fn(), and stays on the parent's
``children`` list until css_release_work_fn() unlinks it. So a dying memcg
with a child, online or dying itself, cannot be freed before the child is.
No config option or version changes this (cgroup core since v3.x).
"""

from typing import Iterator, Tuple

from drgn import FaultError, Object, container_of

from memcg_zombies.cgroups import css_state, memcg_path
from memcg_zombies.helpers.lists import MAX_LIST, list_nodes
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import ChildPin

__all__ = ("child_css",)


def child_css(ctx: Context, memcg: Object) -> Iterator[Object]:
    """The ``struct cgroup_subsys_state *`` on ``memcg->css.children``."""
    prog = ctx.prog
    where = f"children of memcg {memcg.value_():#x}"
    for pos in list_nodes(memcg.css.children, where, MAX_LIST, ctx.faults):
        yield container_of(Object(prog, "struct list_head *", pos),
                           "struct cgroup_subsys_state", "sibling")


@pinner("children")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    for addr, memcg in ctx.zombies.items():
        for css in child_css(ctx, memcg):
            child = container_of(css, "struct mem_cgroup", "css")
            try:
                state = css_state(css)
            except FaultError as e:
                ctx.fault(f"child css {css.value_():#x}", e, css.value_())
                state = None
            try:
                path = memcg_path(child)
            except (FaultError, ValueError):
                path = f"memcg {child.value_():#x}"
            yield addr, ChildPin("child", path, 1, "refs", css_refs=1,
                                 memcg=hex(child.value_()), state=state)
