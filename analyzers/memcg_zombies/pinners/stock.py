"""
Per-CPU charge stock holding a dying memcg
------------------------------------------

Each CPU keeps pre-charged pages for recently charged memcg(s)
(``memcg_stock``) and, since v5.9, pre-charged bytes for an objcg. A cached
memcg holds one css reference (css_get in refill_stock / __refill_stock) and
a cached objcg one objcg reference, until the stock is drained or replaced.
css_offline drains every CPU's stock (drain_all_stock, since about v5.4),
but a CPU can charge the memcg again before the offline completes, and
drain_all_stock skips CPUs whose stock is being used.

Layouts (``layout.refs.memcg_stock``):

- "single": ``cached``/``nr_pages`` and ``cached_objcg``/``nr_bytes``;
- "task_irq" (v5.14-v5.19): ``task_obj``/``irq_obj`` struct obj_stock, each
  with ``cached_objcg``/``nr_bytes``;
- "array" (by v6.19): ``cached[]``/``nr_pages[]`` memcgs, and a separate
  per-CPU ``obj_stock`` (struct obj_stock_pcp) with ``cached[]``/``nr_bytes[]``.

Without CONFIG_MEMCG there is no ``memcg_stock`` and nothing to find.
"""

from typing import Dict, Iterator, List, Optional, Tuple

from drgn import FaultError, Object
from drgn.helpers.linux.percpu import per_cpu

from memcg_zombies.cpus import possible_cpus
from memcg_zombies.helpers.mm import page_size
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import StockPin, StockSlot

__all__ = ("stock_entries",)


def _memcgs(stock: Object, layout: Optional[str]) -> Iterator[Tuple[int, int]]:
    # (memcg address, pre-charged pages); layout: layout.refs.memcg_stock
    if layout == "array":
        for memcg, pages in zip(stock.cached, stock.nr_pages):
            yield memcg.value_(), pages.value_()
    else:
        yield stock.cached.value_(), stock.nr_pages.value_()


def _objcgs(prog, stock: Object, cpu: int, layout: Optional[str],
            cached_objcg: bool) -> Iterator[Tuple[Object, int]]:
    # (struct obj_cgroup *, pre-charged bytes)
    if layout == "array":
        try:
            obj = per_cpu(prog["obj_stock"], cpu)
        except KeyError:
            return
        for objcg, nbytes in zip(obj.cached, obj.nr_bytes):
            yield objcg.read_(), nbytes.value_()
    elif layout == "task_irq":
        for part in (stock.task_obj, stock.irq_obj):
            yield part.cached_objcg.read_(), part.nr_bytes.value_()
    elif cached_objcg:  # v5.9+ (layout.refs.memcg_stock_cached_objcg)
        yield stock.cached_objcg.read_(), stock.nr_bytes.value_()


def stock_entries(ctx: Context) -> Iterator[Tuple[int, int, str, int]]:
    """``(memcg address, cpu, "memcg" or "objcg", pre-charged bytes)`` for
    every per-CPU stock slot naming a memcg (an objcg by its current memcg)."""
    prog = ctx.prog
    layout = ctx.layout.refs.memcg_stock
    try:
        var = prog["memcg_stock"]
    except KeyError:
        return
    psize = page_size(prog)
    for cpu in possible_cpus(prog):
        try:
            stock = per_cpu(var, cpu)
            slots = [(m, "memcg", pages * psize) for m, pages in _memcgs(stock, layout) if m]
            for objcg, nbytes in _objcgs(prog, stock, cpu, layout,
                                         ctx.layout.refs.memcg_stock_cached_objcg):
                if objcg:
                    slots.append((objcg.memcg.value_(), "objcg", nbytes))
        except FaultError as e:
            ctx.fault(f"memcg_stock of CPU {cpu}", e)
            continue
        for memcg, kind, nbytes in slots:
            yield memcg, cpu, kind, nbytes


@pinner("stock")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    if ctx.layout.refs.memcg_stock is None or not ctx.zombies:
        return  # !CONFIG_MEMCG
    found: Dict[int, List[Tuple[int, str, int]]] = {}
    for memcg, cpu, kind, nbytes in stock_entries(ctx):
        if memcg in ctx.zombies:
            found.setdefault(memcg, []).append((cpu, kind, nbytes))
    for memcg, slots in found.items():
        css_refs = sum(1 for _, kind, _ in slots if kind == "memcg")
        cpus = sorted({cpu for cpu, _, _ in slots})
        yield memcg, StockPin(
            "stock", f"per-CPU charge stock on CPU {', '.join(map(str, cpus))}",
            len(slots), "refs", bytes=sum(n for _, _, n in slots), css_refs=css_refs,
            slots=[StockSlot(c, k, n) for c, k, n in slots])
