"""Reference holders outside the memcg: its private id (and the table and swap
records that use it), the per-CPU charge stock, BPF maps."""

from dataclasses import dataclass
from typing import Literal, Optional, Tuple

from drgn import Program, TypeKind

from memcg_zombies.layout.probe import (find_object, find_type, has_member, has_symbol,
                                        strip_typedef)

IdTableKind = Literal["xarray", "idr", "idr_layers"]


@dataclass(frozen=True)
class RefsLayout:
    #: The type of memcg->id ("struct mem_cgroup_id", ...), None before v4.8.
    memcg_id_struct: Optional[Literal["struct mem_cgroup_private_id",
                                      "struct mem_cgroup_id"]]
    #: memcg->id's type name as the debug info spells it.
    memcg_id_type: Optional[str]
    memcg_id_ref: Optional[Literal["refcount_t", "atomic_t"]]
    #: (symbol, kind) of the table of private ids.
    memcg_id_table: Optional[Tuple[str, IdTableKind]]
    idr_base: bool
    idr_rt_xarray: bool
    #: Who records the owner of a swap slot.
    swap_cgroup: Optional[Literal["pages", "flat", "cluster"]]
    memcg_stock: Optional[Literal["single", "task_irq", "array"]]
    memcg_stock_cached_objcg: bool
    bpf_map_owner: Optional[Literal["objcg", "memcg"]]


def refs_layout(prog: Program) -> RefsLayout:
    mc = find_type(prog, "struct mem_cgroup")

    # The memcg private id (memcg->id, what swap records): struct
    # mem_cgroup_id { int id; atomic_t ref; } since v4.8, 73f576c04b94
    # ("mm: memcontrol: fix cgroup creation failure after many small jobs");
    # renamed struct mem_cgroup_private_id in v7.0 when mem_cgroup_id()
    # started returning the 64-bit cgroup id.
    id_struct = next((t for t in ("struct mem_cgroup_private_id", "struct mem_cgroup_id")
                      if find_type(prog, t) is not None), None)
    # ref became a refcount_t with 1c2d479a119b ("mm/memcontrol.c: convert
    # mem_cgroup_id::ref to refcount_t type", posted Oct 2018: v4.20 or
    # v5.0, the merge is not in the searchable sources); an atomic_t before
    # (checked 4.9, 4.19; refcount_t checked 5.3).
    id_type = id_ref = None
    if mc is not None and mc.has_member("id"):
        t = mc.member("id").type
        id_type = t.type_name()
        if t.has_member("ref"):
            id_ref = ("refcount_t" if "refcount" in t.member("ref").type.type_name()
                      else "atomic_t")
    # The memcg id table: mem_cgroup_idr (IDR, v4.8..v6.11); the xarray
    # mem_cgroup_ids since v6.12 (Shakeel Butt's "memcg: replace memcg ID
    # idr with xarray", Aug 2024; linux-next carried it under several ids
    # and the mainline one is not in the searchable sources);
    # mem_cgroup_private_ids (v7.0, with the private-id rename).
    table: Optional[Tuple[str, IdTableKind]] = None
    for sym, kind in (("mem_cgroup_private_ids", "xarray"),
                      ("mem_cgroup_ids", "xarray"),
                      ("mem_cgroup_idr", "idr")):
        if find_object(prog, sym) is not None:
            table = (sym, kind)  # type: ignore[assignment]
            break
    # Before v4.11's 0a835c4f090a ("Reimplement IDR and IDA using the
    # radix tree") an IDR is a tree of struct idr_layer (idr->top,
    # layer->ary[1 << IDR_BITS]) with no idr_rt (checked 4.9).
    if (table is not None and table[1] == "idr"
            and has_member(prog, "struct idr", "top")
            and not has_member(prog, "struct idr", "idr_rt")):
        table = (table[0], "idr_layers")
    # An IDR's ids start at idr->idr_base since v4.16, 6ce711f27500 ("idr:
    # Make 1-based IDRs more efficient"); 0 before. idr->idr_rt is a
    # struct xarray since v4.20, f8d5d0cc145c ("xarray: Add definition of
    # struct xarray"; radix_tree_root became an alias of it); a struct
    # radix_tree_root in v4.11..v4.19 (0a835c4f090a above).
    idr_t = find_type(prog, "struct idr")
    idr_rt_xarray = (idr_t is not None and idr_t.has_member("idr_rt")
                     and idr_t.member("idr_rt").type.type_name() == "struct xarray")

    # Who records the owner of a swap slot (mm/swap_cgroup.c, then the
    # swap table):
    # - "pages": swap_cgroup_ctrl[].map is a struct page ** of u16 ids
    #   (up to about v6.13; 6.12 checked);
    # - "flat": map is one vmalloc'd struct swap_cgroup array, one u16
    #   id (or, with "atomic_t ids", two ids per word) per slot (about
    #   v6.14, Kairui Song's swap_cgroup rework; 6.19 checked);
    # - "cluster": no swap_cgroup_ctrl, swap_cluster_info.memcg_table
    #   holds unsigned short id[SWAPFILE_CLUSTER] per cluster (the swap
    #   table rework; seen in 7.2);
    # - None: no swap accounting (!CONFIG_SWAP or !CONFIG_MEMCG).
    swap: Optional[Literal["pages", "flat", "cluster"]] = None
    ctrl = find_type(prog, "struct swap_cgroup_ctrl")
    if ctrl is not None and has_symbol(prog, "swap_cgroup_ctrl"):
        map_type = strip_typedef(ctrl.member("map").type.type)
        swap = "pages" if map_type.kind == TypeKind.POINTER else "flat"
    elif has_member(prog, "struct swap_cluster_info", "memcg_table"):
        swap = "cluster"

    # Per-CPU charge stock (struct memcg_stock_pcp):
    # - "single": one cached memcg (+ cached_objcg since v5.9);
    # - "task_irq": v5.14-v5.19 split the objcg cache into task_obj and
    #   irq_obj struct obj_stock ("mm/memcg: optimize user context object
    #   stock access", reverted in v6.0);
    # - "array": cached[NR_MEMCG_STOCK] memcgs plus a separate per-CPU
    #   obj_stock_pcp with cached[] objcgs (multi-memcg stock, by v6.19).
    stock = find_type(prog, "struct memcg_stock_pcp")
    stock_kind: Optional[Literal["single", "task_irq", "array"]] = None
    if stock is not None:
        if strip_typedef(stock.member("cached").type).kind == TypeKind.ARRAY:
            stock_kind = "array"
        elif stock.has_member("task_obj"):
            stock_kind = "task_irq"
        else:
            stock_kind = "single"

    return RefsLayout(
        memcg_id_struct=id_struct,  # type: ignore[arg-type]
        memcg_id_type=id_type,
        memcg_id_ref=id_ref,  # type: ignore[arg-type]
        memcg_id_table=table,
        idr_base=has_member(prog, "struct idr", "idr_base"),
        idr_rt_xarray=idr_rt_xarray,
        swap_cgroup=swap,
        memcg_stock=stock_kind,
        # A "single" stock also caches one objcg (cached_objcg/nr_bytes) since
        # v5.9, bf4f059954dc ("mm: memcg/slab: obj_cgroup API").
        memcg_stock_cached_objcg=stock is not None and stock.has_member("cached_objcg"),
        # What a BPF map charges: map->memcg (css ref) from v5.11,
        # 48edc1f78aab ("bpf: Prepare for memcg-based memory accounting for
        # bpf maps"); map->objcg (objcg ref) by v6.1. Neither: no
        # CONFIG_MEMCG_KMEM accounting of maps (or no CONFIG_BPF_SYSCALL).
        bpf_map_owner=next((m for m in ("objcg", "memcg")
                            if has_member(prog, "struct bpf_map", m)), None),
    )
