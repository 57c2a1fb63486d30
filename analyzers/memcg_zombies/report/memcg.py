"""
One dying memcg's state, reparenting and cost
---------------------------------------------

What :mod:`memcg_zombies.state`, :mod:`memcg_zombies.reparent` and
:mod:`memcg_zombies.cost` find for one ``struct mem_cgroup``, typed. None means
unreadable (a fault says why) or absent on this kernel.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from memcg_zombies.report.address import HexRepr

__all__ = ("PageCounter", "Stat", "FrozenNote", "MemcgState", "Reparenting", "CostPart",
           "MemcgCost")


@dataclass
class PageCounter:
    """One ``struct page_counter`` of the memcg, in pages."""

    usage: Optional[int]
    watermark: Optional[int]
    failcnt: Optional[int]

    def to_dict(self) -> Dict[str, Any]:
        return {"usage": self.usage, "watermark": self.watermark, "failcnt": self.failcnt}


@dataclass
class Stat:
    """One memory.stat item."""

    #: Exact at dump time, per-CPU deltas no flush has folded in included.
    value: Optional[int]
    #: What memory.stat would have printed without a flush.
    flushed: Optional[int]
    #: The kernel's unit: "bytes" for ``*_B`` items, else "pages".
    unit: str
    #: ``value`` in bytes.
    bytes: Optional[int]

    def to_dict(self) -> Dict[str, Any]:
        return {"value": self.value, "flushed": self.flushed, "unit": self.unit,
                "bytes": self.bytes}


@dataclass
class FrozenNote:
    """Which of a dying memcg's values the kernel stopped updating at offline."""

    #: Stat items frozen, and those (with page counters) still moving.
    frozen: List[str]
    live: List[str]
    #: What the memory page counter means on this kernel.
    memory_counter: str

    def to_dict(self) -> Dict[str, Any]:
        return {"frozen": self.frozen, "live": self.live, "memory_counter": self.memory_counter}


@dataclass(repr=False)
class MemcgState(HexRepr):
    """Refcounts, ids, page counters and stats of one memcg (state.py)."""

    address: int
    #: css.refcnt summed exactly (percpu_ref_read), DEAD flag, mode.
    css_refcnt: Optional[int] = None
    css_refcnt_dead: Optional[bool] = None
    css_refcnt_mode: Optional[str] = None
    #: memcg->id.id, memcg->id.ref, and whether the id table maps id -> memcg.
    memcg_id: Optional[int] = None
    memcg_id_ref: Optional[int] = None
    in_id_table: Optional[bool] = None
    #: "<symbol>" of the table searched.
    id_table: Optional[str] = None
    #: Page counter name ("memory", "swap", "memsw", "kmem", "tcpmem") -> its values.
    counters: Dict[str, PageCounter] = field(default_factory=dict)
    #: ``enum node_stat_item`` / ``enum memcg_stat_item`` name -> its value.
    stats: Dict[str, Stat] = field(default_factory=dict)
    #: How the stats were computed for this kernel.
    stats_method: Optional[str] = None
    #: node -> item -> value, node items only, in the item's unit.
    node_stats: Dict[int, Dict[str, Optional[int]]] = field(default_factory=dict)
    #: What the kernel no longer updates on this memcg.
    frozen: Optional[FrozenNote] = None
    page_size: int = 4096

    def to_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """``notes``: the report's (:func:`~memcg_zombies.report.document.kernel_notes`);
        the stats method and frozen note they hold are left out."""
        d = {
            "address": hex(self.address),
            "css_refcnt": self.css_refcnt,
            "css_refcnt_dead": self.css_refcnt_dead,
            "css_refcnt_mode": self.css_refcnt_mode,
            "memcg_id": self.memcg_id,
            "memcg_id_ref": self.memcg_id_ref,
            "in_id_table": self.in_id_table,
            "id_table": self.id_table,
            "counters": {k: c.to_dict() for k, c in self.counters.items()},
            "stats": {k: s.to_dict() for k, s in self.stats.items()},
            "stats_method": self.stats_method,
            "node_stats": {str(k): v for k, v in self.node_stats.items()},
            "frozen": {} if self.frozen is None else self.frozen.to_dict(),
            "page_size": self.page_size,
        }
        if notes is not None:
            if d["stats_method"] is not None and d["stats_method"] == notes["stats_method"]:
                del d["stats_method"]
            if d["frozen"] and d["frozen"] == notes["frozen"]:
                del d["frozen"]
        return d


@dataclass
class Reparenting:
    """Whether the kernel reparented what one mechanism charges (reparent/)."""

    mechanism: str
    #: "reparented", "not reparented", "partial", "not in this kernel" or "unknown".
    verdict: str
    reason: str
    #: What the verdict rests on; its keys depend on the mechanism.
    evidence: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        # Not dataclasses.asdict: its deep copy was a third of a 1,000-zombie
        # analysis, and evidence is built fresh for each verdict anyway.
        d = {"mechanism": self.mechanism, "verdict": self.verdict, "reason": self.reason,
             "evidence": self.evidence}
        if notes is not None and notes["reparenting"].get(self.mechanism) == self.reason:
            del d["reason"]
        return d


@dataclass
class CostPart:
    """One allocation a dying memcg keeps."""

    name: str
    #: The type sizes, and the bytes rounded to the allocator's size class.
    raw_bytes: int
    count: int
    bytes: int
    #: "kmalloc", "per-CPU x 4", ...
    how: str

    def to_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        d = {"name": self.name, "raw_bytes": self.raw_bytes, "count": self.count,
             "bytes": self.bytes, "how": self.how}
        if notes is not None and notes["cost_parts"].get(self.name) == self.how:
            del d["how"]
        return d


@dataclass
class MemcgCost:
    """The memory a dying memcg's own structures take (cost.py): an estimate."""

    note: str
    #: Possible CPUs (None when unreadable: per-CPU parts left out) and nodes.
    nr_cpus: Optional[int]
    nr_nodes: int
    #: Whether its cgroup was removed (rmdir), so the cgroup counts too.
    cgroup_removed: Optional[bool]
    parts: List[CostPart] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(p.bytes for p in self.parts)

    @property
    def total_raw_bytes(self) -> int:
        return sum(p.raw_bytes for p in self.parts)

    def to_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        d = {"estimate": True, "note": self.note, "nr_cpus": self.nr_cpus,
             "nr_nodes": self.nr_nodes, "cgroup_removed": self.cgroup_removed,
             "parts": [p.to_dict(notes) for p in self.parts], "total_bytes": self.total_bytes,
             "total_raw_bytes": self.total_raw_bytes}
        if notes is not None and notes["cost"] == self.note:
            del d["note"]
        return d
