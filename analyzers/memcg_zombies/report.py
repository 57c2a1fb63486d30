"""
Report model
------------

Plain dataclasses for what the analyzers found; :mod:`memcg_zombies.render`
turns them into text or JSON. Nothing here touches drgn.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ("SCHEMA", "Fault", "KernelInfo", "Source", "MemcgEntry", "Zombie", "Summary",
           "Report")

SCHEMA = "memcg-zombies/1"


@dataclass
class Fault:
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
    #: Era facts from :class:`memcg_zombies.layout.Layout`.
    facts: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        d = {"release": self.release, "hierarchy": self.hierarchy}
        d.update(self.facts)
        return d


@dataclass
class MemcgEntry:
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
    #: The page scan: engine, reader ("drgn" or "kdump"), threads, pages, seconds.
    scan: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Zombie:
    """Why one dying memcg is still here: its pins, refs, verdicts and cost."""

    entry: MemcgEntry
    #: ``Pin.to_dict()`` of every pin found (pinners/__init__.py), largest first.
    pins: List[Dict[str, Any]] = field(default_factory=list)
    #: css references the pins account for, and the rest of ``entry.refcnt``.
    explained_refs: int = 0
    unexplained_refs: Optional[int] = None
    #: Bytes of RAM the pins keep allocated (swap entries are counted apart).
    pinned_bytes: int = 0
    swap_bytes: int = 0
    #: One line: "held by 1024 shmem pages of /cache.bin (tmpfs)".
    verdict: str = ""
    #: Reparenting verdicts, one per mechanism the kernel has (reparent.py).
    reparenting: List[Dict[str, Any]] = field(default_factory=list)
    #: Counters, ids and stats (state.py) and the memory the memcg itself costs (cost.py).
    state: Dict[str, Any] = field(default_factory=dict)
    cost: Dict[str, Any] = field(default_factory=dict)
    #: Its group's pattern (groups.py): the path, per-instance names as ``*``.
    group: Optional[str] = None
    #: The fraction of live cgroups created after it (by cgroup id, groups.py).
    older_than_live: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
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
            "pins": self.pins,
            "reparenting": self.reparenting,
            "state": self.state,
            "cost": self.cost,
        }


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
    #: pins.held_by(): per kind of pin, the dying memcgs it holds (alone) and how much.
    held_by: List[Dict[str, Any]] = field(default_factory=list)
    #: groups.group_rows(): the leaks, by pattern, most pinned memory first.
    groups: List[Dict[str, Any]] = field(default_factory=list)

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

    def head_dict(self) -> Dict[str, Any]:
        """The document's fields before its lists."""
        return {
            "schema": SCHEMA,
            "source": self.source.to_dict(),
            "kernel": self.kernel.to_dict(),
            "summary": self.summary.to_dict(),
        }

    def lists(self) -> Dict[str, List[Any]]:
        """The document's lists, of items with a ``to_dict()``."""
        return {"memcgs": self.memcgs, "zombies": self.zombies, "faults": self.faults}

    def to_dict(self) -> Dict[str, Any]:
        d = self.head_dict()
        d.update({k: [x.to_dict() for x in v] for k, v in self.lists().items()})
        return d
