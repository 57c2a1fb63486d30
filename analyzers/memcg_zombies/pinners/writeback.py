"""
Cgroup writeback structures of a dying memcg
--------------------------------------------

With CONFIG_CGROUP_WRITEBACK every (bdi, memcg, blkcg) that dirtied pages
gets a ``struct bdi_writeback`` whose ``memcg_css`` holds a css reference
(css_get in cgwb_create) until the wb is released, and inodes point at it
through ``inode->i_wb``. At offline, wb_memcg_offline() -> cgwb_kill()
unlinks the wb from ``memcg->cgwb_list`` and kills its refcount; it lives on
until its last inode is switched to another wb:

- v5.14+, c22d70a162d3 ("writeback, cgroup: release dying cgwbs by switching
  attached inodes"): killed wbs sit on the global list ``offline_cgwbs``
  (``wb->offline_node``) and clean inodes on ``wb->b_attached``; a cleanup
  work switches them away.
- before: nothing switches clean inodes, and the wb is reachable only from
  its bdi (``bdi->wb_list`` through ``wb->bdi_node``, until release).

So the walk is every bdi on ``bdi_list`` and its ``wb_list``, plus
``offline_cgwbs`` where it exists. Without CONFIG_CGROUP_WRITEBACK (no
``bdi_writeback.memcg_css``) there is nothing to find.
"""

from typing import Dict, Iterator, List, Set, Tuple

from drgn import FaultError, Object

from memcg_zombies.helpers.lists import MAX_LIST, list_entries, list_nodes
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import WritebackPin

__all__ = ("cgwbs",)

# enum wb_state in include/linux/backing-dev-defs.h (bit numbers).
_WB_STATES = ("WB_registered", "WB_writeback_running", "WB_has_dirty_io", "WB_start_all")


def _nodes(ctx: Context, where: str, head: Object,
           bound: int = MAX_LIST) -> Iterator[int]:
    """Node addresses of the ``struct list_head`` ``head``; see helpers.lists.list_nodes."""
    return list_nodes(head, where, bound, ctx.faults)


def _entries(ctx: Context, where: str, head: Object, type_: str,
             member: str) -> Iterator[Object]:
    return list_entries(head, type_, member, where, MAX_LIST, ctx.faults)


def cgwbs(ctx: Context) -> Tuple[Dict[int, Object], Set[int]]:
    """All cgroup wbs found: ``({wb address: wb}, {addresses on offline_cgwbs})``."""
    prog = ctx.prog
    found: Dict[int, Object] = {}
    offline: Set[int] = set()
    try:
        bdis = prog["bdi_list"]
    except KeyError:
        bdis = None  # !CONFIG_BLOCK-era kernels without a bdi list
    if bdis is not None:
        for bdi in _entries(ctx, "bdi_list", bdis, "struct backing_dev_info", "bdi_list"):
            where = f"bdi {bdi.value_():#x} wb_list"
            for wb in _entries(ctx, where, bdi.wb_list, "struct bdi_writeback", "bdi_node"):
                found[wb.value_()] = wb
    if ctx.layout.fs.has_offline_cgwbs:
        for wb in _entries(ctx, "offline_cgwbs", prog["offline_cgwbs"],
                           "struct bdi_writeback", "offline_node"):
            found[wb.value_()] = wb
            offline.add(wb.value_())
    return found, offline


def _bdi_name(ctx: Context, bdi: Object) -> str:
    # bdi->dev_name (layout.fs.bdi_dev_name), else the device's name.
    if ctx.layout.fs.bdi_dev_name:
        try:
            return bdi.dev_name.string_().decode(errors="replace")
        except FaultError:
            pass
    try:
        return bdi.dev.kobj.name.string_().decode(errors="replace")
    except FaultError:
        return f"bdi {bdi.value_():#x}"


def _state_names(state: int) -> List[str]:
    return [name for bit, name in enumerate(_WB_STATES) if state & (1 << bit)]


def _inode_counts(ctx: Context, wb: Object) -> Dict[str, int]:
    counts = {}
    for name in ctx.layout.fs.wb_inode_lists:  # b_attached: v5.14+
        head = getattr(wb, name)
        counts[name] = sum(1 for _ in _nodes(ctx, f"wb {wb.value_():#x} {name}", head))
    return counts


@pinner("writeback")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    if not ctx.layout.fs.has_cgwb or not ctx.zombies:
        return  # !CONFIG_CGROUP_WRITEBACK
    css_to_memcg = {m.css.address_of_().value_(): a for a, m in ctx.zombies.items()}
    found, offline = cgwbs(ctx)
    for addr, wb in found.items():
        try:
            memcg = css_to_memcg.get(wb.memcg_css.value_())
            if memcg is None:
                continue
            name = _bdi_name(ctx, wb.bdi)
            state = wb.state.value_()
        except FaultError as e:
            ctx.fault(f"bdi_writeback {addr:#x}", e, addr)
            continue
        inodes = _inode_counts(ctx, wb)
        pin = WritebackPin("cgwb", f"cgroup writeback on {name}", 1, "objects", css_refs=1,
                           wb=hex(addr), bdi=name, state=_state_names(state),
                           on_offline_cgwbs=addr in offline if ctx.layout.fs.has_offline_cgwbs
                           else None, inodes=inodes)
        try:
            pin.blkcg_css = hex(wb.blkcg_css.value_())
        except FaultError:
            pass
        yield memcg, pin
