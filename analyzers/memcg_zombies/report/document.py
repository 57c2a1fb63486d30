"""
The report document
-------------------

What the analysis found, as the JSON report (schema ``memcg-zombies/2``) lays it out:
source, kernel, the notes every zombie shares, summary, then the memcgs, the zombies
and the faults.
"""

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from memcg_zombies.report.address import HexRepr
from memcg_zombies.report.memcg import MemcgCost, MemcgState, Reparenting
from memcg_zombies.report.pins import Pin

if TYPE_CHECKING:  # the model needs no drgn; Zombie.memcg() imports it when called
    from drgn import Object, Program

__all__ = ("SCHEMA", "kernel_notes", "Fault", "KernelInfo", "ScanStats", "Source", "MemcgEntry", "Zombie",
           "HeldBy", "Group", "Summary", "Report")

SCHEMA = "memcg-zombies/2"


@dataclass(repr=False)
class Fault(HexRepr):
    """Something that could not be read or made no sense; the walk went on."""

    #: What was being done, e.g. "css.children of /a/b".
    where: str
    #: What went wrong, e.g. a drgn FaultError message or "cycle".
    error: str
    #: The kernel address involved, if any.
    address: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "where": self.where,
            "error": self.error,
            "address": None if self.address is None else hex(self.address),
        }


@dataclass
class KernelInfo:
    release: Optional[str]
    #: "cgroup2" or "cgroup1": which hierarchy the memory controller is on.
    hierarchy: Optional[str] = None
    #: Era facts of the layout (:mod:`memcg_zombies.layout`).
    facts: Dict[str, Any] = field(default_factory=dict)

    @property
    def css_flags(self) -> Dict[str, int]:
        """``CSS_*`` flag name -> bit, as this kernel defines them."""
        return self.facts.get("css_flags", {})

    def to_dict(self) -> Dict[str, Any]:
        d = {"release": self.release, "hierarchy": self.hierarchy}
        d.update(self.facts)
        return d


@dataclass(repr=False)
class MemcgEntry(HexRepr):
    """One memory cgroup, online or not. None means "could not be read"."""

    #: ``struct mem_cgroup *`` address.
    address: int
    path: Optional[str]
    #: ``cgroup->kn->id``; the cgroup directory's inode number on 64-bit v5.5+.
    cgroup_id: Optional[int]
    css_id: Optional[int]
    #: "online", "dying" or "released".
    state: Optional[str]
    flags: Optional[int]
    #: ``__PERCPU_REF_DEAD`` set on ``css.refcnt``.
    refcnt_dead: Optional[bool]
    #: ``css.refcnt`` when it is in atomic mode (exact); None in per-CPU mode.
    refcnt: Optional[int]
    nr_dying_descendants: Optional[int]
    #: ``cgroup->nr_dying_subsys[memory_cgrp_id]`` (v6.11+), else None.
    nr_dying_subsys_memory: Optional[int]
    #: Depth below the memory controller's root (root = 0).
    level: int = 0
    #: Whether the memcg's cgroup is still online. A dying memcg of a live cgroup was
    #: killed by removing "memory" from the parent's cgroup.subtree_control.
    cgroup_online: Optional[bool] = None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["address"] = hex(self.address)
        return d


@dataclass
class ScanStats:
    """The page scan that ran."""

    #: "python" or "c".
    engine: str
    #: "drgn" (through the Program) or "kdump" (libhelper's libkdumpfile readers).
    reader: str
    threads: int
    #: struct pages scanned, and how long it took.
    pages: int
    seconds: float


@dataclass
class Source:
    """What was analysed, and with what."""

    #: The vmcore path, or None for the running kernel.
    vmcore: Optional[str] = None
    vmlinux: Optional[str] = None
    #: True when read from a running kernel (/proc/kcore): memory changed under the walk.
    live: bool = False
    drgn_version: Optional[str] = None
    tool_version: Optional[str] = None
    #: Page-scan engine used ("python" or "c"), None if no page scan ran.
    scanner: Optional[str] = None
    scan: Optional[ScanStats] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Zombie:
    """Why one dying memcg is still here: its pins, refs, verdicts and cost."""

    entry: MemcgEntry
    #: Every pin found (pinners/), what holds the css first, then by memory held.
    pins: List[Pin] = field(default_factory=list)
    #: css references the pins account for, and the rest of ``entry.refcnt``.
    explained_refs: int = 0
    unexplained_refs: Optional[int] = None
    #: Bytes of RAM the pins keep allocated (swap entries are counted apart).
    pinned_bytes: int = 0
    swap_bytes: int = 0
    #: One line: "held by 1024 shmem pages of /cache.bin (tmpfs)".
    verdict: str = ""
    #: Reparenting verdicts, one per mechanism the kernel has (reparent/).
    reparenting: List[Reparenting] = field(default_factory=list)
    #: Counters, ids and stats (state.py) and the memory the memcg itself costs
    #: (cost.py); None when unreadable (a fault says why).
    state: Optional[MemcgState] = None
    cost: Optional[MemcgCost] = None
    #: Its group's pattern (groups.py): the path, per-instance names as ``*``.
    group: Optional[str] = None
    #: The fraction of live cgroups created after it (by cgroup id, groups.py).
    older_than_live: Optional[float] = None

    def memcg(self, prog: "Program") -> "Object":
        """Its ``struct mem_cgroup *`` in ``prog`` (the program the report came from)."""
        from drgn import Object

        return Object(prog, "struct mem_cgroup *", self.entry.address)

    def to_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The JSON zombie; with the report's ``notes`` (:func:`kernel_notes`), without
        the texts they hold."""
        return {
            "address": hex(self.entry.address),
            "path": self.entry.path,
            "group": self.group,
            "cgroup_id": self.entry.cgroup_id,
            "older_than_live": self.older_than_live,
            "css_id": self.entry.css_id,
            "refcnt": self.entry.refcnt,
            "verdict": self.verdict,
            "pinned_bytes": self.pinned_bytes,
            "swap_bytes": self.swap_bytes,
            "explained_refs": self.explained_refs,
            "unexplained_refs": self.unexplained_refs,
            "pins": [p.to_dict() for p in self.pins],
            "reparenting": [r.to_dict(notes) for r in self.reparenting],
            "state": {} if self.state is None else self.state.to_dict(notes),
            "cost": {} if self.cost is None else self.cost.to_dict(notes),
        }


def _one(values: Set[Any]) -> Any:
    return next(iter(values)) if len(values) == 1 else None


def kernel_notes(zombies: Iterable[Zombie]) -> Dict[str, Any]:
    """
    The texts that are the kernel's, not a zombie's, said once at the top of the JSON
    report (schema /2): each one every zombie that has it agrees on. ``cost``: the cost
    note; ``cost_parts``: part name -> how it is allocated; ``stats_method``: how the
    stats are computed; ``frozen``: what the kernel stopped updating at offline;
    ``reparenting``: mechanism -> reason. A zombie whose text differs keeps its own.
    """
    cost: Set[str] = set()
    methods: Set[str] = set()
    frozen: Set[Tuple[Tuple[str, ...], Tuple[str, ...], str]] = set()
    parts: Dict[str, Set[str]] = {}
    reasons: Dict[str, Set[str]] = {}
    for z in zombies:
        if z.cost is not None:
            cost.add(z.cost.note)
            for p in z.cost.parts:
                parts.setdefault(p.name, set()).add(p.how)
        if z.state is not None:
            if z.state.stats_method is not None:
                methods.add(z.state.stats_method)
            if z.state.frozen is not None:
                f = z.state.frozen
                frozen.add((tuple(f.frozen), tuple(f.live), f.memory_counter))
        for r in z.reparenting:
            reasons.setdefault(r.mechanism, set()).add(r.reason)
    note = _one(frozen)
    return {
        "cost": _one(cost),
        "cost_parts": {name: _one(h) for name, h in parts.items() if len(h) == 1},
        "stats_method": _one(methods),
        "frozen": None if note is None else {"frozen": list(note[0]), "live": list(note[1]),
                                             "memory_counter": note[2]},
        "reparenting": {m: _one(r) for m, r in reasons.items() if len(r) == 1},
    }


@dataclass
class HeldBy:
    """One kind of pin (or "unexplained" refs) over all dying memcgs (pins.held_by)."""

    kind: str
    #: The dying memcgs its css refs hold, and those nothing else holds.
    memcgs: int
    alone: int
    #: The pins' total count (in ``unit``) and bytes.
    count: int
    unit: str
    bytes: int


@dataclass
class Group:
    """The dying memcgs of one name pattern: one leak (groups.group_rows)."""

    #: The path with per-instance names as ``*``.
    pattern: str
    count: int
    pinned_bytes: int
    swap_bytes: int
    #: Per kind of pin, the members it holds; most first.
    kinds: Dict[str, int]
    oldest_cgroup_id: Optional[int]
    newest_cgroup_id: Optional[int]
    #: The fraction of live cgroups created after the newest member.
    newest_older_than_live: Optional[float] = None
    #: The pattern's literal part, its live cgroups, and those newer than the newest member.
    parent: str = ""
    live_under_parent: int = 0
    live_under_parent_newer: Optional[int] = None


@dataclass
class Summary:
    total: int = 0
    online: int = 0
    dying: int = 0
    released: int = 0
    #: State unreadable (excluded or corrupt memory).
    unknown: int = 0
    #: The kernel's own count, from the memory root's cgroup.
    root_nr_dying_descendants: Optional[int] = None
    root_nr_dying_subsys_memory: Optional[int] = None
    faults: int = 0
    #: Over all dying memcgs: RAM their pins hold, swap they hold, what they cost.
    pinned_bytes: Optional[int] = None
    swap_bytes: Optional[int] = None
    cost_bytes: Optional[int] = None
    #: Per kind of pin, the dying memcgs it holds (alone) and how much.
    held_by: List[HeldBy] = field(default_factory=list)
    #: The leaks, by pattern, most pinned memory first.
    groups: List[Group] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    kernel: KernelInfo
    memcgs: List[MemcgEntry] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    faults: List[Fault] = field(default_factory=list)
    source: Source = field(default_factory=Source)
    #: Dying memcgs explained (empty when only the listing was asked for).
    zombies: List[Zombie] = field(default_factory=list)

    def dying(self) -> List[MemcgEntry]:
        return [m for m in self.memcgs if m.state == "dying"]

    def notes(self) -> Dict[str, Any]:
        return kernel_notes(self.zombies)

    def head_dict(self, notes: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The document's fields before its lists."""
        return {
            "schema": SCHEMA,
            "source": self.source.to_dict(),
            "kernel": self.kernel.to_dict(),
            "notes": self.notes() if notes is None else notes,
            "summary": self.summary.to_dict(),
        }

    def list_dicts(self, notes: Dict[str, Any]) -> Dict[str, Iterator[Dict[str, Any]]]:
        """The document's lists, each item as JSON, made as they are read; the zombies
        without the texts ``notes`` hold."""
        return {"memcgs": (m.to_dict() for m in self.memcgs),
                "zombies": (z.to_dict(notes) for z in self.zombies),
                "faults": (f.to_dict() for f in self.faults)}

    def to_dict(self) -> Dict[str, Any]:
        notes = self.notes()
        d = self.head_dict(notes)
        d.update({k: list(v) for k, v in self.list_dicts(notes).items()})
        return d
