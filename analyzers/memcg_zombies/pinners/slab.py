"""
Slab objects charged to a zombie
--------------------------------

Since v5.9, bf4f059954dc ("mm: memcg/slab: obj_cgroup API") and 10befea91b61
("mm: memcg/slab: use a single set of kmem_caches for all allocations"), every
accounted slab object has an objcg in its slab's vector (``slab->obj_exts``
since v6.10, ``memcg_data``/``obj_cgroups`` before), counted by the page scan.
Objects hold objcg references only, never css ones. Offlining reparents the
objcgs (``objcg->memcg`` becomes the parent), so a zombie normally has no live
slab pins; objects still charged to its original objcg (known from
``orig_objcg``, v6.8+) are reported with ``detail["pins"] = False``.

Before v5.9 slabs came from per-memcg caches (reference §3): those are
pinners/kmem_caches.py, and up to v5.2 their slab pages (page->mem_cgroup)
are pinners/pages.py.
"""

from collections import defaultdict
from typing import Dict, Iterator, Tuple

from drgn import FaultError, Object

from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import Reparented, SlabPin
from memcg_zombies.pinners.pages import objcg_owners, owner_of, page_scan


def _cache_info(ctx: Context, cache: int) -> Tuple[str, int]:
    try:
        s = Object(ctx.prog, "struct kmem_cache *", cache)
        return s.name.string_().decode(errors="replace"), s.object_size.value_()
    except FaultError as e:
        ctx.fault(f"kmem_cache {cache:#x}", e, cache)
        return f"kmem_cache {cache:#x}", 0


@pinner("slab")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    scan = page_scan(ctx)
    if scan is None or not scan.slab_objects:
        return
    # (zombie, pins, cache) -> objects, and the objcgs seen for each.
    counts: Dict[Tuple[int, bool, int], int] = defaultdict(int)
    objcgs: Dict[Tuple[int, bool, int], set] = defaultdict(set)
    for (objcg, cache), n in scan.slab_objects.items():
        who = owner_of(ctx, objcg)
        if who is None:
            continue
        zombie, pins, _ = who
        counts[(zombie, pins, cache)] += n
        objcgs[(zombie, pins, cache)].add(objcg)
    refs = ctx.layout.charge.slab_css_refs_per_object or 0
    owners = objcg_owners(ctx)
    for (zombie, pins, cache), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        name, size = _cache_info(ctx, cache)
        pin = SlabPin("slab", name, n, "objects", n * size, n * refs, cache=hex(cache),
                      object_size=size,
                      objcgs=sorted(hex(o) for o in objcgs[(zombie, pins, cache)]))
        if not pins:
            now = {owners.get(o, (0, 0))[0] for o in objcgs[(zombie, pins, cache)]}
            pin.reparented = Reparented(sorted(hex(m) for m in now if m), pin.bytes)
            pin.what += " [reparented]"
            pin.bytes = 0
            pin.css_refs = 0
        yield zombie, pin
