"""
Per-memcg kmem caches charged to a zombie (v4.x-v5.8)
-----------------------------------------------------

Until v5.9's 10befea91b61 ("mm: memcg/slab: use a single set of kmem_caches
for all allocations") every accounted root cache got one child copy per memcg
(docs/kernel-eras.md section 3), named ``"%s(%llu:%s)"`` after the root cache, the
memcg's css ``serial_nr`` and its cgroup name, with ``memcg_params.memcg``
naming the memcg it charges. One pin per child cache; what it holds depends
on the era (``layout.charge.kmem_cache_css_refs``):

- era A (up to v5.2, ``memcg_params`` without ``refcnt``): the cache holds
  no css ref; its slab pages do, one each, through ``page->mem_cgroup``
  (counted by the page scan, pinners/pages.py). At offline the caches are
  only deactivated (dropped from the root's ``memcg_caches`` array).
- era B (v5.3-v5.8): the cache holds one css ref (``css_get`` in
  memcg_link_cache) and its slab pages hold counts on
  ``memcg_params.refcnt`` instead. At offline memcg_deactivate_kmem_caches()
  sets ``memcg_params.memcg`` to the parent, moves the css ref there and
  splices the caches onto ``parent->kmem_caches``: such a cache still has the
  zombie's serial in its name but pins the parent; it is reported with
  ``reparented`` and no css ref.

Caches are found from ``slab_root_caches`` and each root's
``memcg_params.children`` (v4.11, 510ded33e075 "slab: implement slab_root_caches
list"; checked 4.19, 5.3, 5.4) or, on
older kernels (4.9: ``is_root_cache``), from ``slab_caches``. Without
``memcg_params`` (v5.9+, or !CONFIG_MEMCG_KMEM) this visitor yields nothing.
"""

import re
from typing import Dict, Iterator, Optional, Set, Tuple

from drgn import FaultError, Object

from memcg_zombies.helpers import mm
from memcg_zombies.helpers.lists import MAX_LIST, list_entries
from memcg_zombies.percpu_ref import percpu_ref_read
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import CacheRefcnt, KmemCachePin, Reparented

__all__ = ("per_memcg_caches", "cache_serial")

#: Bound on a root cache's memcg_caches array (memcg_nr_cache_ids).
_MAX_IDS = 1 << 16

_SERIAL = re.compile(rb"\((\d+):")


def cache_serial(name: bytes) -> Optional[int]:
    """The css serial_nr in a child cache name "root(serial:cgroup)", or None."""
    found = _SERIAL.findall(name)
    return int(found[-1]) if found else None


def _list(ctx: Context, head: Object, type_name: str, member: str,
          where: str) -> Iterator[Object]:
    return list_entries(head, type_name, member, where, MAX_LIST, ctx.faults)


def per_memcg_caches(ctx: Context) -> Iterator[Tuple[Object, Optional[Object]]]:
    """``(child struct kmem_cache *, root struct kmem_cache * or None)`` for every
    per-memcg cache, each once."""
    prog = ctx.prog
    lay = ctx.layout
    seen: Set[int] = set()
    if lay.reparent.memcg_params_children:
        # v4.11+ (510ded33e075; 4.19, 5.3, 5.4 checked): root caches on
        # slab_root_caches through memcg_params.__root_caches_node, their
        # children on memcg_params.children through children_node.
        try:
            roots = prog["slab_root_caches"]
        except KeyError:
            roots = None
        if roots is not None:
            for root in _list(ctx, roots, "struct kmem_cache",
                              "memcg_params.__root_caches_node", "slab_root_caches"):
                where = f"children of kmem_cache {root.value_():#x}"
                try:
                    children = root.memcg_params.children
                except FaultError as e:
                    ctx.fault(where, e, root.value_())
                    continue
                for child in _list(ctx, children, "struct kmem_cache",
                                   "memcg_params.children_node", where):
                    if child.value_() not in seen:
                        seen.add(child.value_())
                        yield child, root
            return
    # 4.9: every cache on slab_caches (through ->list); a child has
    # memcg_params.is_root_cache false (4.9) or a root_cache (4.14+).
    try:
        caches = prog["slab_caches"]
    except KeyError:
        return
    for s in _list(ctx, caches, "struct kmem_cache", "list", "slab_caches"):
        try:
            p = s.memcg_params
            if lay.reparent.memcg_params_is_root_cache:
                if p.is_root_cache.value_():
                    continue
            elif not p.root_cache.value_():
                continue
            root = p.root_cache.read_()
        except FaultError as e:
            ctx.fault(f"kmem_cache {s.value_():#x}", e, s.value_())
            continue
        if s.value_() not in seen:
            seen.add(s.value_())
            yield s, root if root else None


def _root_array(ctx: Context, root: Optional[Object], cache: Dict[int, Optional[Set[int]]]
                ) -> Optional[Set[int]]:
    # The children a root cache still hands out: memcg_caches->entries[]
    # (memcg_nr_cache_ids long). Deactivation at offline NULLs the entry.
    if root is None:
        return None
    addr = root.value_()
    if addr not in cache:
        try:
            n = min(ctx.prog["memcg_nr_cache_ids"].value_(), _MAX_IDS)
            arr = root.memcg_params.memcg_caches.read_()
            if not arr or n <= 0:
                cache[addr] = set()
            else:
                entries = arr.entries
                data = ctx.prog.read(entries.address_, 8 * n)
                cache[addr] = {int.from_bytes(data[i:i + 8], "little")
                               for i in range(0, len(data), 8)} - {0}
        except (KeyError, FaultError, LookupError, AttributeError) as e:
            if not isinstance(e, KeyError):
                ctx.fault(f"memcg_caches of kmem_cache {addr:#x}", e, addr)
            cache[addr] = None
    return cache[addr]


@pinner("kmem_caches")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    lay = ctx.layout
    if not lay.reparent.memcg_params or not ctx.zombies:
        return  # v5.9+ (10befea91b61) or !CONFIG_MEMCG_KMEM: no per-memcg caches
    refs = lay.charge.kmem_cache_css_refs or 0
    has_refcnt = lay.charge.kmem_cache_css_refs == 1  # memcg_params.refcnt, v5.3+
    page_size = mm.page_size(ctx.prog)
    serials: Dict[int, int] = {}
    for addr, memcg in ctx.zombies.items():
        try:
            serials[memcg.css.serial_nr.value_()] = addr
        except FaultError as e:
            ctx.fault(f"memcg {addr:#x} css.serial_nr", e, addr)
    arrays: Dict[int, Optional[Set[int]]] = {}
    for s, root in per_memcg_caches(ctx):
        where = f"kmem_cache {s.value_():#x}"
        try:
            memcg = s.memcg_params.memcg.value_()
            name = s.name.string_()
        except FaultError as e:
            ctx.fault(where, e, s.value_())
            continue
        serial = cache_serial(name)
        named = serials.get(serial) if serial is not None else None
        if memcg not in ctx.zombies and named is None:
            continue
        live = _root_array(ctx, root, arrays)
        text = name.decode(errors="replace")
        pin = KmemCachePin("kmem_cache", text, 1, "objects", 0, refs, cache=hex(s.value_()),
                           memcg=hex(memcg),
                           root_cache=hex(root.value_()) if root is not None else None,
                           # Deactivated (offline): the root's memcg_caches array no longer has it.
                           deactivated=None if live is None else s.value_() not in live)
        slab_pages = None
        if has_refcnt:
            try:
                ref = percpu_ref_read(s.memcg_params.refcnt)
                # The initial ref is dropped by percpu_ref_kill() at
                # deactivation; the rest are slab pages (1 << order each).
                slab_pages = None if ref.count is None else ref.count - (0 if ref.dead else 1)
                pin.refcnt = CacheRefcnt(ref.count, ref.dead, slab_pages)
            except FaultError as e:
                ctx.fault(f"{where} memcg_params.refcnt", e, s.value_())
        nbytes = max(slab_pages or 0, 0) * page_size
        if memcg in ctx.zombies:
            pin.bytes = nbytes
            yield memcg, pin
        else:
            # v5.3+ reparented: the cache charges (and holds a css ref on)
            # an ancestor now; the zombie is only in its name.
            pin.reparented = Reparented(hex(memcg), nbytes)
            pin.what += " [reparented]"
            pin.css_refs = 0
            assert named is not None  # else the cache was skipped above
            yield named, pin
