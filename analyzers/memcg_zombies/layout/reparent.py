"""Reparenting mechanisms: what offline moves to the parent, per era (per-memcg
kmem caches, obj_cgroup, list_lru, LRU folios, the deferred split queue)."""

from dataclasses import dataclass
from typing import Literal, Optional

from drgn import Program

from memcg_zombies.layout.probe import find_object, find_type, has_member

PerWhat = Literal["memcg", "per_node"]


@dataclass(frozen=True)
class ReparentLayout:
    memcg_params: bool
    memcg_params_children: bool
    memcg_params_is_root_cache: bool
    memcg_kmem_caches: bool
    objcg: Optional[PerWhat]
    orig_objcg: bool
    objcg_list: Optional[PerWhat]
    lru_reparent: bool
    lru_gen: bool
    lru_gen_lists: Optional[Literal["folios", "lists"]]
    list_lru_head: Optional[Literal["memcg_list_lrus", "list_lrus"]]
    list_lru_memcg: Optional[Literal["xarray", "array"]]
    list_lru_dead_marker: bool
    list_lru_memcg_aware: bool
    memcg_kmemcg_id: bool
    memcg_kmem_state: bool
    memcg_deferred_split: bool
    deferred_split_reparent: bool


def reparent_layout(prog: Program) -> ReparentLayout:
    mc = find_type(prog, "struct mem_cgroup")
    pn = find_type(prog, "struct mem_cgroup_per_node")

    def mc_has(member: str) -> bool:
        return mc is not None and mc.has_member(member)

    def pn_has(member: str) -> bool:
        return pn is not None and pn.has_member(member)

    # - Per-memcg kmem caches with memcg_params reparented, v5.3..v5.8
    #   ("mm: memcg/slab: reparent memcg kmem_caches on cgroup removal");
    #   gone in v5.9 ("mm: memcg/slab: use a single set of kmem_caches
    #   for all accounted allocations"). memcg_params itself is older.
    memcg_params = has_member(prog, "struct kmem_cache", "memcg_params")
    #   How the per-memcg caches are linked. Before v4.11: memcg_params.
    #   is_root_cache and slab_caches only. v4.11 (Tejun Heo's slab series,
    #   510ded33e075 "slab: implement slab_root_caches list" and
    #   bc2791f857e1 "slab: link memcg kmem_caches on their associated
    #   memory cgroup"): memcg_params.children/__root_caches_node
    #   (slab_root_caches) and memcg->kmem_caches; both gone in v5.9.
    #   memcg_params.refcnt (v5.3) is charge.kmem_cache_css_refs == 1.
    kc = find_type(prog, "struct kmem_cache")
    params_t = kc.member("memcg_params").type if kc is not None and memcg_params else None

    # - obj_cgroup: v5.9 ("mm: memcg/slab: obj_cgroup API"); orig_objcg:
    #   v6.8 (checked 6.8 sources); per node since the v7.1
    #   LRU-to-objcg reparenting series (checked 7.1 sources, Debian 7.2).
    objcg: Optional[PerWhat] = ("memcg" if mc_has("objcg")
                                else "per_node" if pn_has("objcg") else None)
    #   objcg_list (the objcgs a memcg owns, spliced into the parent's
    #   at offline) came with memcg->objcg in v5.9 (bf4f059954dc) and
    #   moved per node with it in v7.1.
    objcg_list: Optional[PerWhat] = ("memcg" if mc_has("objcg_list")
                                     else "per_node" if pn_has("objcg_list") else None)

    lru_gen = has_member(prog, "struct lruvec", "lrugen")
    #   MGLRU (v6.1) generation lists: lrugen->lists[] at first, renamed
    #   lrugen->folios[] in v6.3, 6df1b2212950 ("mm: multi-gen LRU: rename
    #   lrugen->lists[] to lrugen->folios[]"), which 6.1.y took as a
    #   dependency of a later fix (so Debian 6.1 has folios[]).
    lru_gen_lists: Optional[Literal["folios", "lists"]] = None
    lruvec_t = find_type(prog, "struct lruvec")
    if lru_gen and lruvec_t is not None:
        lrugen_t = lruvec_t.member("lrugen").type
        lru_gen_lists = "folios" if lrugen_t.has_member("folios") else "lists"

    # - list_lru: global list "list_lrus" (v4.x..v5.17, Debian 5.10),
    #   "memcg_list_lrus" by v6.1; v5.18's bbca91cca9a9 ("mm: list_lru:
    #   replace linear array with xarray") moved per-memcg lists from
    #   lru->node[n].memcg_lrus->lru[] into lru->xa, indexed by kmemcg_id.
    list_lru_head: Optional[Literal["memcg_list_lrus", "list_lrus"]] = (
        "memcg_list_lrus" if find_object(prog, "memcg_list_lrus") is not None
        else "list_lrus" if find_object(prog, "list_lrus") is not None else None)
    list_lru_memcg: Optional[Literal["xarray", "array"]] = (
        "xarray" if has_member(prog, "struct list_lru", "xa")
        else "array" if has_member(prog, "struct list_lru_node", "memcg_lrus") else None)

    return ReparentLayout(
        memcg_params=memcg_params,
        memcg_params_children=params_t is not None and params_t.has_member("children"),
        memcg_params_is_root_cache=(params_t is not None
                                    and params_t.has_member("is_root_cache")),
        memcg_kmem_caches=mc_has("kmem_caches"),
        objcg=objcg,
        orig_objcg=mc_has("orig_objcg") or pn_has("orig_objcg"),
        objcg_list=objcg_list,
        # - LRU folios reparented at offline (v7.1: lru_reparent_memcg): the
        #   same series made folio->memcg_data an objcg and moved objcgs per node.
        lru_reparent=(objcg == "per_node"
                      or find_object(prog, "lru_reparent_memcg") is not None),
        lru_gen=lru_gen,
        lru_gen_lists=lru_gen_lists,
        list_lru_head=list_lru_head,
        list_lru_memcg=list_lru_memcg,
        # - v6.13's fb56fdf8b9a2 ("mm/list_lru: split the lock to per-cgroup
        #   scope"), per-cgroup list_lru locks, also changed offline: kmemcg_id is
        #   kept, the lru->xa entry is erased and the lists get nr_items =
        #   LONG_MIN; before, kmemcg_id was rewritten to the parent's.
        list_lru_dead_marker=has_member(prog, "struct list_lru_one", "lock"),
        #   struct list_lru::memcg_aware: v5.2, 3e8589963773 ("memcg: make it
        #   work on sparse non-0-node systems"; also in 4.4.y and later
        #   stable trees). Without it every lru on the global list is walked.
        list_lru_memcg_aware=has_member(prog, "struct list_lru", "memcg_aware"),
        #   memcg->kmemcg_id, the list_lru index: CONFIG_MEMCG_KMEM (in every
        #   DepSurf dump 4.4..6.8), a config fact more than an era one.
        memcg_kmemcg_id=mc_has("kmemcg_id"),
        #   memcg->kmem_state (enum memcg_kmem_state, offline sets
        #   KMEM_ALLOCATED): v4.5 ("mm: memcontrol: give the kmem states
        #   more descriptive names", Dec 2015; its commit id is not in the
        #   searchable sources) until v5.16, e80216d9f1f5 ("mm: memcontrol:
        #   remove the kmem states").
        memcg_kmem_state=mc_has("kmem_state"),
        # - Deferred THP split queue per memcg (v5.4, "mm: thp: make deferred
        #   split shrinker memcg aware"); reparented at offline in v6.19
        #   (reparent_deferred_split_queue); no memcg queue in Debian 7.2.
        memcg_deferred_split=mc_has("deferred_split_queue"),
        deferred_split_reparent=find_object(prog, "reparent_deferred_split_queue") is not None,
    )
