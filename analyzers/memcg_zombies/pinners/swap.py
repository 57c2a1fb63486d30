"""
Swap entries charged to a dying memcg
-------------------------------------

Swapping out a page records ``memcg->id.id`` (the private memcg id, not
``css.id``) for the slot and takes one ``memcg->id.ref`` per entry
(``mem_cgroup_id_get_many``). While ``id.ref > 0`` the id holds ONE css
reference ("Memcg ID pins CSS" in mm/memcontrol.c), so swap keeps a zombie
alive without any RAM page being charged to it. Swap-in or swapoff frees
the entries.

Where the per-slot ids live (``layout.refs.swap_cgroup``):

- "pages" (up to about v6.13): ``swap_cgroup_ctrl[type].map`` is an array
  of ``length`` pages, each ``PAGE_SIZE / 2`` u16 ids;
- "flat" (v6.14+): ``map`` is one vmalloc'd array with ``si->max`` slots,
  u16 each (two per ``atomic_t ids`` word, low half first);
- "cluster" (swap table rework, 7.x): ``si->cluster_info[c].memcg_table``
  is ``unsigned short id[SWAPFILE_CLUSTER]``, NULL for a cluster without a
  table.

Ids are read in bulk (whole pages or tables), counted per id, and mapped to
memcgs by ``memcg->id.id``. Without CONFIG_SWAP or CONFIG_MEMCG (no
swap_cgroup_ctrl nor memcg_table) this visitor yields nothing.
"""

import sys
from array import array
from collections import Counter
from typing import Dict, Iterator, Optional, Tuple

from drgn import FaultError, Object, offsetof
from drgn.helpers.linux.mm import page_to_virt

from memcg_zombies.helpers.memcg import memcg_private_id
from memcg_zombies.helpers.mm import page_size
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import SwapPin

__all__ = ("swap_id_counts",)

#: Bound on slots examined per swap device: MAX_SWAP slots are < 2**32
#: (swp_entry_t offset); no real device gets near.
_MAX_SLOTS = 1 << 32


def _pointer_size(prog) -> int:
    return prog.type("void *").size


def _u16s(buf: bytes) -> Counter:
    # Slots are u16; skip the common all-free buffer without counting.
    if not buf.strip(b"\0"):
        return Counter()
    ids = array("H")
    ids.frombytes(buf)
    if sys.byteorder != "little":  # kernel little-endian assumed (x86, arm64)
        ids.byteswap()
    counts = Counter(ids)
    counts.pop(0, None)
    return counts


def _device_name(si: Object) -> str:
    try:
        dentry = si.swap_file.f_path.dentry
        return dentry.d_name.name.string_().decode(errors="replace")
    except (FaultError, AttributeError, ValueError):
        return f"swap type {si.type.value_()}"


def _swap_devices(ctx: Context) -> Iterator[Tuple[int, Object]]:
    prog = ctx.prog
    try:
        nr = prog["nr_swapfiles"].value_()
        swap_info = prog["swap_info"]
        used = prog["SWP_USED"].value_()
    except KeyError:
        return  # !CONFIG_SWAP
    for t in range(min(nr, len(swap_info))):
        try:
            si = swap_info[t].read_()
            if si and si.flags.value_() & used:
                yield t, si
        except FaultError as e:
            ctx.fault(f"swap_info[{t}]", e)


def _read(ctx: Context, where: str, address: int, size: int) -> Optional[bytes]:
    try:
        return ctx.prog.read(address, size)
    except FaultError as e:
        ctx.fault(where, e, address)
        return None


def _count_pages(ctx: Context, t: int, si: Object) -> Counter:
    # swap_cgroup_ctrl[t].map: struct page *[length], PAGE_SIZE/2 ids each.
    prog = ctx.prog
    counts: Counter = Counter()
    ctrl = prog["swap_cgroup_ctrl"][t]
    npages = ctrl.length.value_()
    base = ctrl.map.value_()
    if not base:
        return counts
    psize = page_size(prog)
    psz = _pointer_size(prog)
    npages = min(npages, _MAX_SLOTS // (psize // 2))
    raw = _read(ctx, f"swap_cgroup_ctrl[{t}].map", base, psz * npages)
    if raw is None:
        return counts
    for i in range(npages):
        page = int.from_bytes(raw[i * psz:(i + 1) * psz], "little")
        if not page:
            continue
        try:
            addr = page_to_virt(Object(prog, "struct page *", page)).value_()
        except FaultError as e:
            ctx.fault(f"swap_cgroup_ctrl[{t}].map[{i}]", e, page)
            continue
        buf = _read(ctx, f"swap_cgroup_ctrl[{t}] page {i}", addr, psize)
        if buf is not None:
            counts.update(_u16s(buf))
    return counts


def _count_flat(ctx: Context, t: int, si: Object) -> Counter:
    # One vmalloc'd array of si->max slots, 2 bytes per slot in memory
    # whether typed u16 or packed two per atomic_t (low half first on LE).
    prog = ctx.prog
    counts: Counter = Counter()
    base = prog["swap_cgroup_ctrl"][t].map.value_()
    if not base:
        return counts
    nbytes = 2 * min(si.max.value_(), _MAX_SLOTS)
    chunk = 1 << 16
    for off in range(0, nbytes, chunk):
        buf = _read(ctx, f"swap_cgroup_ctrl[{t}].map", base + off, min(chunk, nbytes - off))
        if buf is not None:
            counts.update(_u16s(buf))
    return counts


def _count_clusters(ctx: Context, t: int, si: Object) -> Counter:
    # si->cluster_info[DIV_ROUND_UP(max, SWAPFILE_CLUSTER)], each with an
    # optional memcg_table of SWAPFILE_CLUSTER u16 ids.
    prog = ctx.prog
    counts: Counter = Counter()
    ci_type = prog.type("struct swap_cluster_info")
    table_type = prog.type("struct swap_memcg_table")
    per_cluster = table_type.size // 2
    nclusters = -(-min(si.max.value_(), _MAX_SLOTS) // per_cluster)
    base = si.cluster_info.value_()
    if not base:
        return counts
    raw = _read(ctx, f"swap_info[{t}]->cluster_info", base, ci_type.size * nclusters)
    if raw is None:
        return counts
    # Parsed from the bytes: far cheaper than one Object per cluster.
    off = offsetof(ci_type, "memcg_table")
    psz = _pointer_size(prog)
    for c in range(nclusters):
        start = c * ci_type.size + off
        table = int.from_bytes(raw[start:start + psz], "little")
        if not table:
            continue
        buf = _read(ctx, f"swap_info[{t}]->cluster_info[{c}].memcg_table", table,
                    table_type.size)
        if buf is not None:
            counts.update(_u16s(buf))
    return counts


_COUNTERS = {"pages": _count_pages, "flat": _count_flat, "cluster": _count_clusters}


def swap_id_counts(ctx: Context) -> Dict[int, Dict[str, int]]:
    """Swap entries per memcg private id: ``{id: {device: entries}}``."""
    mode = ctx.layout.refs.swap_cgroup
    count = _COUNTERS.get(mode) if mode is not None else None
    result: Dict[int, Dict[str, int]] = {}
    if count is None:
        return result
    for t, si in _swap_devices(ctx):
        try:
            per_id = count(ctx, t, si)
        except FaultError as e:
            ctx.fault(f"swap cgroup ids of swap type {t}", e)
            continue
        name = _device_name(si)
        for ident, n in per_id.items():
            result.setdefault(ident, {})[name] = n
    return result


@pinner("swap")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    ids: Dict[int, Tuple[int, int]] = {}
    for addr, memcg in ctx.zombies.items():
        try:
            private = memcg_private_id(memcg)
        except FaultError as e:
            ctx.fault(f"memcg {addr:#x} id", e, addr)
            continue
        if private is not None:  # None before v4.8: no private id, no swap records of it
            ids[addr] = private
    # A dying memcg without id refs has given its id back (it may even be
    # reused): nothing on swap can be its.
    if not any(ref > 0 for _, ref in ids.values()):
        return
    counts = swap_id_counts(ctx)
    psize = page_size(ctx.prog)
    for addr, (ident, ref) in ids.items():
        if ref <= 0:
            continue
        devices = counts.get(ident, {})
        entries = sum(devices.values())
        if entries:
            where = ", ".join(sorted(devices))
            yield addr, SwapPin("swap", f"swap entries on {where}", entries, "entries",
                                bytes=entries * psize, css_refs=1, memcg_id=ident, id_ref=ref,
                                devices=devices)
        else:
            # The id ref is held by something we did not find (unreadable
            # swap map, swap cache in flight, v1 move-charge): still one css ref.
            yield addr, SwapPin("swap", "memcg id references (no swap entry found)", ref,
                                "refs", css_refs=1, memcg_id=ident, id_ref=ref, devices=devices)
