"""A memcg's own state: page counters, memory.stat storage per era, rstat."""

from dataclasses import dataclass
from typing import Literal, Optional, Tuple

from drgn import Program, TypeKind

from memcg_zombies.layout.probe import find_object, find_type, has_member, strip_typedef

Vmstats = Literal["percpu", "atomic_stat", "atomic", "rstat_embedded", "rstat_ptr"]


@dataclass(frozen=True)
class StateLayout:
    page_counter_usage: Literal["usage", "count"]
    #: The struct page_counter members of struct mem_cgroup this kernel has.
    page_counters: Tuple[str, ...]
    swap_memsw_union: bool
    #: Where memory.stat lives (see :func:`state_layout`).
    vmstats: Optional[Vmstats]
    memcg_percpu_stats: Tuple[str, ...]
    stats_index: Optional[Literal["s8_plus1", "u8"]]
    lruvec_stats: Optional[Literal["ptr", "embedded", "atomic"]]
    pn_percpu_stats: Tuple[str, ...]
    css_rstat_cpu: bool
    cgroup_rstat_percpu: Tuple[str, ...]
    nodeinfo_flexible: Optional[bool]


def state_layout(prog: Program) -> StateLayout:
    mc = find_type(prog, "struct mem_cgroup")
    pn = find_type(prog, "struct mem_cgroup_per_node")

    def mc_has(member: str) -> bool:
        return mc is not None and mc.has_member(member)

    # swap (v2) and memsw (v1) share storage in an anonymous union since
    # v5.10, bd0b230fe145 ("mm/memcg: unify swap and memsw page counters");
    # separate fields before. kmem and tcpmem are v1 only
    # and sit under CONFIG_MEMCG_V1 from v6.12, so they may be missing.
    swap_memsw_union = False
    if mc is not None and mc_has("swap") and mc_has("memsw"):
        swap_memsw_union = mc.member("swap").offset == mc.member("memsw").offset

    # Where memory.stat lives:
    # - "percpu": v4.9 per-CPU memcg->stat (struct mem_cgroup_stat_cpu).
    # - "atomic_stat": v4.16..v5.1 atomic memcg->stat[] + batched
    #   stat_cpu (a983b5ebee57 "mm: memcontrol: fix excessive complexity in
    #   memory.stat reporting").
    # - "atomic": v5.2..v5.12 hierarchical atomic memcg->vmstats[] +
    #   batched vmstats_percpu->stat[] (42a300353577 "mm: memcontrol: fix
    #   recursive statistics correctness & scalabilty").
    # - "rstat_embedded": v5.13, 2d146aa3aa84 ("mm: memcontrol: switch to
    #   rstat"): struct memcg_vmstats embedded in the memcg.
    # - "rstat_ptr": separately allocated since v6.1, 410f8e82689e ("memcg:
    #   extract memcg_vmstats from struct mem_cgroup").
    vmstats: Optional[Vmstats] = None
    if mc is not None and mc_has("vmstats"):
        t = strip_typedef(mc.member("vmstats").type)
        if t.kind == TypeKind.POINTER:
            vmstats = "rstat_ptr"
        elif t.kind == TypeKind.STRUCT:
            vmstats = "rstat_embedded"
        else:
            vmstats = "atomic"
    elif mc_has("stat_cpu"):
        vmstats = "atomic_stat"
    elif mc_has("stat"):
        vmstats = "percpu"

    # v6.10, ff48c71c26aa ("memcg: reduce memory for the lruvec and memcg stats"),
    # compacted the state arrays behind mem_cgroup_stats_index[]: int8_t
    # holding index + 1 in v6.10, u8 with U8_MAX for "not a memcg stat"
    # by v6.12 (docs/kernel-eras.md section 6).
    stats_index: Optional[Literal["s8_plus1", "u8"]] = None
    idx = find_object(prog, "mem_cgroup_stats_index")
    if idx is not None:
        et = strip_typedef(idx.type_.type)
        stats_index = "s8_plus1" if et.is_signed else "u8"

    # Per-node memcg stats: atomic pn->lruvec_stat[] + per-CPU batch
    # (v4.16..v5.12), embedded rstat struct lruvec_stats (v5.13,
    # 7e1c0d6f5820 "memcg: switch lruvec stats to rstat"), separately
    # allocated since v6.10, 70a64b7919cb ("memcg: dynamically allocate
    # lruvec_stats").
    lruvec_stats: Optional[Literal["ptr", "embedded", "atomic"]] = None
    if pn is not None:
        if pn.has_member("lruvec_stats"):
            t = pn.member("lruvec_stats").type
            lruvec_stats = "ptr" if t.kind == TypeKind.POINTER else "embedded"
        elif pn.has_member("lruvec_stat"):
            lruvec_stats = "atomic"

    # nodeinfo[]: a flexible array of nr_node_ids pointers allocated with
    # the memcg (struct_size() in mem_cgroup_alloc) on every test kernel;
    # a fixed-length array would be inside sizeof(struct mem_cgroup).
    nodeinfo_flexible = None
    if mc is not None and mc_has("nodeinfo"):
        nodeinfo_flexible = not mc.member("nodeinfo").type.length  # length 0 or None

    return StateLayout(
        # struct page_counter (v4.3): "count" until v4.18's "mm: rename
        # page_counter's count/limit into usage/max" (checked 4.9 / 4.19).
        page_counter_usage=("usage" if has_member(prog, "struct page_counter", "usage")
                            else "count"),
        page_counters=tuple(c for c in ("memory", "swap", "memsw", "kmem", "tcpmem")
                            if mc_has(c)),
        swap_memsw_union=swap_memsw_union,
        vmstats=vmstats,
        # Per-CPU statistics allocated with the memcg (sized by cost.py):
        # vmstats_percpu and vmstats_local since v5.2 (42a300353577 "mm:
        # memcontrol: fix recursive statistics correctness & scalabilty" and
        # 815744d75152 "mm: memcontrol: don't batch updates of local VM stats
        # and events"); vmstats_local gone with the v5.13 switch to rstat,
        # 2d146aa3aa84. DepSurf type dumps: vmstats_local absent
        # in 5.0, present 5.3..5.11.
        memcg_percpu_stats=tuple(m for m in ("vmstats_percpu", "vmstats_local")
                                 if mc_has(m)),
        stats_index=stats_index,
        lruvec_stats=lruvec_stats,
        # Their per-CPU parts (cost.py): lruvec_stat_cpu v4.16..v5.12 (with
        # the atomic lruvec_stat[], a983b5ebee57 "mm: memcontrol: fix
        # excessive complexity in memory.stat reporting"), lruvec_stat_local
        # v5.2..v5.12 (815744d75152 "mm: memcontrol: don't batch updates of
        # local VM stats and events"), lruvec_stats_percpu since v5.13
        # (7e1c0d6f5820 "memcg: switch lruvec stats to rstat").
        pn_percpu_stats=tuple(m for m in ("lruvec_stats_percpu", "lruvec_stat_cpu",
                                          "lruvec_stat_local")
                              if pn is not None and pn.has_member(m)),
        # rstat per-CPU state (cost.py): cgroup->rstat_cpu since v4.18,
        # c58632b3631c (Tejun Heo, 2018-04-26, which renamed v4.15's
        # cgroup->stat_cpu; its title is not in the searchable sources);
        # per css (css->rstat_cpu) plus cgroup->rstat_base_cpu since v6.16,
        # 5da3bfa029d6 ("cgroup: use separate rstat trees for each
        # subsystem") and its series.
        css_rstat_cpu=has_member(prog, "struct cgroup_subsys_state", "rstat_cpu"),
        cgroup_rstat_percpu=tuple(m for m in ("rstat_cpu", "rstat_base_cpu")
                                  if has_member(prog, "struct cgroup", m)),
        nodeinfo_flexible=nodeinfo_flexible,
    )
