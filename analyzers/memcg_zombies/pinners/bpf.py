"""
BPF maps charged to a dying memcg
---------------------------------

A BPF map's memory is charged to the memcg that created it:

- v5.11-v5.19, 48edc1f78aab ("bpf: Prepare for memcg-based memory
  accounting for bpf maps"): ``map->memcg`` holds a css reference
  (get_mem_cgroup_from_mm) until the map is freed;
- by v6.1: ``map->objcg`` holds an objcg reference, which no longer pins the
  css (after offline the objcg points to an ancestor).

Maps are found through ``map_idr`` (v4.13, f3f1c054c288 "bpf: Introduce
bpf_map ID"), which holds every map with an id. Without CONFIG_BPF_SYSCALL
there is no map_idr, and without CONFIG_MEMCG neither field: nothing to find.
"""

from itertools import islice
from typing import Iterator, Tuple

from drgn import FaultError, Object, cast
from drgn.helpers.linux.idr import idr_for_each

from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import BpfPin

__all__ = ("bpf_map_memcgs",)

#: Maps examined at most (ids are ints; real systems have thousands).
MAX_MAPS = 1 << 20


def bpf_map_memcgs(ctx: Context) -> Iterator[Tuple[Object, int, str]]:
    """``(struct bpf_map *, memcg address, "memcg" or "objcg")`` for each map
    charged to a memcg (an objcg map to its objcg's current memcg)."""
    prog = ctx.prog
    owner = ctx.layout.refs.bpf_map_owner
    try:
        idr = prog["map_idr"]
    except KeyError:
        return  # !CONFIG_BPF_SYSCALL
    if owner is None:
        return  # maps not charged to memcgs on this kernel
    map_ptr = prog.type("struct bpf_map *")
    try:
        # idr_for_each is a plain xarray walk on drgn 0.0.22 and 0.3; bounded.
        for _, entry in islice(idr_for_each(idr.address_of_()), MAX_MAPS):
            bpf_map = cast(map_ptr, entry)
            try:
                ptr = getattr(bpf_map, owner).read_()
                if not ptr:
                    continue
                memcg = ptr.memcg.value_() if owner == "objcg" else ptr.value_()
            except FaultError as e:
                ctx.fault(f"bpf_map {bpf_map.value_():#x}", e, bpf_map.value_())
                continue
            yield bpf_map, memcg, owner
    except FaultError as e:
        ctx.fault("map_idr", e)


def _map_name(bpf_map: Object) -> str:
    try:
        name = bpf_map.name.string_().decode(errors="replace")
        return f"bpf map {bpf_map.id.value_()} {name}".rstrip()
    except (FaultError, AttributeError):
        return f"bpf map {bpf_map.value_():#x}"


@pinner("bpf")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    if not ctx.zombies:
        return
    for bpf_map, memcg, owner in bpf_map_memcgs(ctx):
        if memcg not in ctx.zombies:
            continue
        yield memcg, BpfPin("bpf_map", _map_name(bpf_map), 1, "objects",
                            css_refs=1 if owner == "memcg" else 0,
                            map=hex(bpf_map.value_()), charged_via=owner)
