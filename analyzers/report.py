"""
Report model
------------

Plain dataclasses for what the analyzers found; :mod:`memcg_zombies.render`
turns them into text or JSON. Nothing here touches drgn.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ("SCHEMA", "Fault", "KernelInfo", "MemcgEntry", "Summary", "Report")

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

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["address"] = hex(self.address)
        return d


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

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    kernel: KernelInfo
    memcgs: List[MemcgEntry] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    faults: List[Fault] = field(default_factory=list)

    def dying(self) -> List[MemcgEntry]:
        return [m for m in self.memcgs if m.state == "dying"]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kernel": self.kernel.to_dict(),
            "memcgs": [m.to_dict() for m in self.memcgs],
            "summary": self.summary.to_dict(),
            "faults": [f.to_dict() for f in self.faults],
        }
