"""
Era facts
---------

Every difference between kernel versions that the analyzers care about is
decided here, by looking at the types and symbols in the debug info, never at
the release string (distribution kernels backport freely). Each branch names
the upstream change that introduced the layout it handles.

The facts come in frozen groups, one module each: :mod:`.cgroup` (kernfs,
css flags, percpu_ref), :mod:`.memmap` (where struct pages are),
:mod:`.charge` (what charged memory names, css refs per thing), :mod:`.pages`
(the page scan's descriptor, the C core's ``struct mz_layout``), :mod:`.refs`
(private ids, swap records, stock, BPF), :mod:`.state` (counters and stats),
:mod:`.reparent` (reparenting mechanisms), :mod:`.net`, :mod:`.fs` and :mod:`.rmap`
(anonymous pages to processes).

Use :func:`layout` to get the (cached) :class:`Layout` of a program.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, TypeVar

from drgn import Program

from memcg_zombies.layout.cgroup import CgroupLayout, cgroup_layout
from memcg_zombies.layout.charge import ChargeLayout, charge_layout
from memcg_zombies.layout.fs import FsLayout, fs_layout
from memcg_zombies.layout.memmap import MemmapLayout, memmap_layout
from memcg_zombies.layout.net import NetLayout, net_layout
from memcg_zombies.layout.pages import PageLayout, page_layout
from memcg_zombies.layout.probe import has_member, static_key_count
from memcg_zombies.layout.refs import RefsLayout, refs_layout
from memcg_zombies.layout.reparent import ReparentLayout, reparent_layout
from memcg_zombies.layout.rmap import RmapLayout, rmap_layout
from memcg_zombies.layout.state import StateLayout, state_layout

__all__ = ("Layout", "layout", "has_member", "per_program")

T = TypeVar("T")


@dataclass(frozen=True)
class Layout:
    """What this kernel looks like, read once from its debug info."""

    prog: Program = field(repr=False, compare=False)
    cgroup: CgroupLayout
    memmap: MemmapLayout
    charge: ChargeLayout
    #: The page scan's descriptor (struct mz_layout).
    pages: PageLayout
    #: Why the memmap cannot be scanned; None when it can.
    no_page_scan: Optional[str]
    refs: RefsLayout
    state: StateLayout
    reparent: ReparentLayout
    net: NetLayout
    fs: FsLayout
    rmap: RmapLayout
    #: per_program()'s values: runtime facts read once, kept with the Layout.
    memo: Dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def memcg_enabled(self) -> Optional[bool]:
        """
        False when booted with cgroup_disable=memory: mem_cgroup_disabled()
        tests the static key memory_cgrp_subsys_enabled_key that
        include/linux/cgroup.h generates per subsystem since v4.4 ("cgroup:
        implement static_key based cgroup_subsys_enabled() and
        cgroup_subsys_on_dfl()", in the v4.4 merge; its commit id is not in
        the searchable sources).
        None when the key is not in the debug info.
        """
        count = static_key_count(self.prog, "memory_cgrp_subsys_enabled_key")
        return None if count is None else bool(count)

    def facts(self) -> Dict[str, object]:
        """The era facts, for the report (keys and order are the report's)."""
        c, ch, p, r, s, rp, n, f = (self.cgroup, self.charge, self.pages, self.refs,
                                    self.state, self.reparent, self.net, self.fs)
        return {
            "kernfs_parent": c.kn_parent,
            "kernfs_id": c.kn_id,
            "percpu_ref": "percpu_ref_data" if c.percpu_ref_data else "inline",
            "has_nr_dying_descendants": c.has_nr_dying_descendants,
            "has_nr_dying_subsys": c.has_nr_dying_subsys,
            "memory_cgrp_id": c.memory_cgrp_id,
            "css_flags": dict(c.css_flags),
            "bits_per_long": c.bits_per_long,
            # pages and slab
            "page_memcg": ch.page_memcg,
            "compound": ch.compound_member,
            "compound_info_mask": p.info_mask,
            "page_type_encoding": ch.page_type_encoding,
            "slab_flag": "PG_slab" if p.PG_slab else "page_type",
            "slab_struct": ch.slab_struct,
            "slab_vector": ch.slab_vector,
            "slab_stride": p.stride_off is not None,
            "slab_needs_objcg_bit": p.needs_objcg_bit is not None,
            "slabobj_ext_size": p.ext_size,
            "folio_memcg_is_objcg": ch.folio_memcg_is_objcg,
            "kmem_memcg_is_objcg": ch.kmem_memcg_is_objcg,
            "lru_css_ref_unit": ch.lru_css_ref_unit,
            "kmem_css_refs_per_page": ch.kmem_css_refs_per_page,
            "slab_css_refs_per_object": ch.slab_css_refs_per_object,
            "slab_css_refs_per_page": ch.slab_css_refs_per_page,
            "kmem_cache_css_refs": ch.kmem_cache_css_refs,
            "dentry_alias": f.dentry_alias,
            # references
            "memcg_id_struct": r.memcg_id_struct,
            "swap_cgroup": r.swap_cgroup,
            "has_offline_cgwbs": f.has_offline_cgwbs,
            "has_cgwb": f.has_cgwb,
            "wb_inode_lists": list(f.wb_inode_lists),
            "memcg_stock": r.memcg_stock,
            "memcg_stock_cached_objcg": r.memcg_stock_cached_objcg,
            "bpf_map_owner": r.bpf_map_owner,
            "tcp_listening_hash": n.tcp_listening_hash,
            "tcp_listen_head": n.tcp_listen_head,
            "has_sk_memcg": n.has_sk_memcg,
            # state, stats and reparenting
            "memcg_id": r.memcg_id_type,
            "memcg_id_ref": r.memcg_id_ref,
            "memcg_id_table": None if r.memcg_id_table is None else r.memcg_id_table[0],
            "idr_base": r.idr_base,
            "idr_rt_xarray": r.idr_rt_xarray,
            "page_counter_usage": s.page_counter_usage,
            "page_counters": list(s.page_counters),
            "swap_memsw_union": s.swap_memsw_union,
            "vmstats": s.vmstats,
            "memcg_percpu_stats": list(s.memcg_percpu_stats),
            "stats_index": s.stats_index,
            "lruvec_stats": s.lruvec_stats,
            "pn_percpu_stats": list(s.pn_percpu_stats),
            "css_rstat_cpu": s.css_rstat_cpu,
            "cgroup_rstat_percpu": list(s.cgroup_rstat_percpu),
            "objcg": rp.objcg,
            "orig_objcg": rp.orig_objcg,
            "objcg_list": rp.objcg_list,
            "memcg_params": rp.memcg_params,
            "memcg_params_children": rp.memcg_params_children,
            "memcg_params_is_root_cache": rp.memcg_params_is_root_cache,
            "memcg_kmem_caches": rp.memcg_kmem_caches,
            "lru_reparent": rp.lru_reparent,
            "lru_gen": rp.lru_gen,
            "lru_gen_lists": rp.lru_gen_lists,
            "list_lru": rp.list_lru_head,
            "list_lru_memcg": rp.list_lru_memcg,
            "list_lru_memcg_aware": rp.list_lru_memcg_aware,
            "list_lru_dead_marker": rp.list_lru_dead_marker,
            "memcg_kmemcg_id": rp.memcg_kmemcg_id,
            "memcg_kmem_state": rp.memcg_kmem_state,
            "memcg_deferred_split": rp.memcg_deferred_split,
            "deferred_split_reparent": rp.deferred_split_reparent,
        }


def _learn(prog: Program) -> Layout:
    memmap = memmap_layout(prog)
    charge = charge_layout(prog)
    pages, why = page_layout(prog, charge, memmap.page_struct_size)
    if memmap.vmemmap is None:
        why = "no SPARSEMEM_VMEMMAP memmap or no memcg field in struct page"
    return Layout(prog=prog, cgroup=cgroup_layout(prog), memmap=memmap, charge=charge,
                  pages=pages, no_page_scan=why, refs=refs_layout(prog),
                  state=state_layout(prog), reparent=reparent_layout(prog),
                  net=net_layout(prog), fs=fs_layout(prog), rmap=rmap_layout(prog))


_cache: Dict[int, Layout] = {}


def layout(prog: Program) -> Layout:
    """The :class:`Layout` of ``prog``, computed on first use."""
    # Programs are not hashable by value on every drgn version; key by id()
    # and keep the program alive in the Layout so the id is not reused.
    lay = _cache.get(id(prog))
    if lay is None or lay.prog is not prog:
        lay = _cache[id(prog)] = _learn(prog)
    return lay


def per_program(prog: Program, key: object, compute: Callable[[], T]) -> T:
    """``compute()`` once per program (possible CPUs, type sizes): kept with the
    program's :class:`Layout`, cached the same way. An exception is not kept;
    the next call computes again."""
    memo = layout(prog).memo
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]
