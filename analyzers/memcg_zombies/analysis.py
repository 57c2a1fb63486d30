"""
The whole analysis: every memcg, and for each dying one what pins it, whether the
kernel reparented what it could, its counters and what it costs.

From a drgn session::

    >>> from memcg_zombies.analysis import analyze
    >>> report = analyze(prog)
    >>> for z in report.zombies[:5]:
    ...     print(z.entry.path, z.verdict)
    >>> z.pins[0]                   # typed: PagePin, SocketPin, SwapPin, ...
    >>> z.memcg(prog).memory.usage  # back to the kernel's struct mem_cgroup

How the memmap is scanned is an explicit :class:`~memcg_zombies.scan.ScanOptions`
(the C engine's libkdumpfile readers need the vmcore's path; a session that does
not know it may ask :func:`memcg_zombies.vmcore.open_vmcore_file`)::

    >>> report = analyze(prog, scan=ScanOptions(vmcore=open_vmcore_file(), threads=4))
"""

import os
from typing import Callable, Dict, List, Optional, TypeVar

import drgn
from drgn import Object, Program

from memcg_zombies import __version__
from memcg_zombies.cgroups import memcg_report
from memcg_zombies.cost import memcg_cost
from memcg_zombies.faults import STEP_ERRORS, guarded
from memcg_zombies.groups import group_rows, older_than, patterns
from memcg_zombies.pinners import Context, Pin, collect
from memcg_zombies.pins import explain, held_by, held_bytes, holding_kinds, sort_pins, verdict
from memcg_zombies.reparent import memcg_reparenting
from memcg_zombies.progress import QUIET, Progress
from memcg_zombies.report import Fault, MemcgEntry, Report, ScanStats, Source, Zombie
from memcg_zombies.scan import ScanOptions
from memcg_zombies.selection import NoMatch, select
from memcg_zombies.state import memcg_state_info
from memcg_zombies.vmcore import core_truncation, truncated_text

__all__ = ("analyze", "NoMatch", "source_for")

T = TypeVar("T")


def _step(faults: List[Fault], where: str, fn: Callable[[], T], default: T) -> T:
    # One part of a zombie's report: any failure, a bug included, becomes a fault
    # and the report goes on (faults.py).
    return guarded(faults, where, fn, default, typed=True, catch=STEP_ERRORS)


def analyze(prog: Program, cgroups: Optional[List[str]] = None, pins: bool = True,
            scan: ScanOptions = ScanOptions(), source: Optional[Source] = None,
            group_depth: Optional[int] = None, progress: Progress = QUIET) -> Report:
    """
    Build the report. ``cgroups`` restricts the zombies explained (selectors, see
    :mod:`memcg_zombies.selection`; one that selects no dying memcg raises NoMatch);
    ``pins=False`` only lists memcgs; ``scan`` says how to scan the memmap;
    ``source`` names the files read (a truncated vmcore becomes the first fault);
    ``group_depth`` cuts the groups' patterns after that many names; ``progress``
    shows the long phases (:mod:`memcg_zombies.progress`).
    """
    report = memcg_report(prog)
    report.source = source or Source()
    report.source.drgn_version = getattr(drgn, "__version__", None)
    report.source.tool_version = __version__
    faults = report.faults
    trunc = core_truncation(report.source.vmcore) if report.source.vmcore else None
    if trunc:
        faults.insert(0, Fault("vmcore", f"{truncated_text(trunc)}: memory beyond the end "
                                         "of the file cannot be read"))
    dying = select(report.memcgs, cgroups)  # NoMatch before any expensive work
    if not pins:
        report.summary.faults = len(faults)
        return report

    memcg_type = prog.type("struct mem_cgroup *")
    memcgs: Dict[int, Object] = {e.address: Object(prog, memcg_type, e.address)
                                 for e in report.memcgs}
    zombies = {e.address: memcgs[e.address] for e in dying}
    ctx = Context(prog, zombies, memcgs, faults, scan)
    with progress.phase("pins found (page scan, sockets, swap, ...)") as ph:
        found = collect(ctx)
        ph.advance()
    if ctx.page_scan is not None:
        report.source.scanner = ctx.page_scan.engine
        report.source.scan = ScanStats(**ctx.page_scan.metadata())

    walked: Dict[object, object] = {}  # lists shared between zombies, walked once
    with progress.phase("zombies analysed", total=len(dying)) as ph:
        for e in dying:
            _zombie(report, e, zombies[e.address], found, walked)
            ph.advance()
    report.zombies.sort(key=lambda z: (z.pinned_bytes, z.swap_bytes, z.entry.refcnt or 0),
                        reverse=True)
    s = report.summary
    s.pinned_bytes = sum(z.pinned_bytes for z in report.zombies)
    s.swap_bytes = sum(z.swap_bytes for z in report.zombies)
    s.cost_bytes = sum(z.cost.total_bytes for z in report.zombies if z.cost is not None)
    s.held_by = held_by((found.get(z.entry.address, []), z.unexplained_refs)
                        for z in report.zombies)
    _group(report, found, group_depth)
    s.faults = len(faults)
    return report


def _zombie(report: Report, e: MemcgEntry, memcg: Object, found: Dict[int, List[Pin]],
            walked: Dict[object, object]) -> None:
    """One dying memcg: its pins in one line, reparenting, counters and cost."""
    faults = report.faults
    z = Zombie(e, pins=sort_pins(found.get(e.address, [])))
    z.explained_refs, z.unexplained_refs = explain(e.refcnt, found.get(e.address, []))
    z.pinned_bytes, z.swap_bytes = held_bytes(found.get(e.address, []))
    z.verdict = verdict(e.refcnt, found.get(e.address, []))
    where = f"memcg {e.path or hex(e.address)}"
    z.reparenting = _step(
        faults, f"{where}: reparenting",
        lambda: memcg_reparenting(memcg, faults, cache=walked), [])
    z.state = _step(faults, f"{where}: counters",
                    lambda: memcg_state_info(memcg, faults, per_node=False), None)
    z.cost = _step(faults, f"{where}: cost", lambda: memcg_cost(memcg, faults), None)
    report.zombies.append(z)


def _group(report: Report, found: Dict[int, List[Pin]], depth: Optional[int]) -> None:
    """Each zombie's group and relative age; the groups in the summary."""
    pats = patterns((z.entry.path for z in report.zombies if z.entry.path), depth)
    live = [(m.path, m.cgroup_id) for m in report.memcgs
            if m.state == "online" and m.level > 0 and m.path and m.cgroup_id is not None]
    live_ids = sorted(cid for _, cid in live)
    for z in report.zombies:
        z.group = pats.get(z.entry.path) if z.entry.path else None
        z.older_than_live = older_than(z.entry.cgroup_id, live_ids)
    report.summary.groups = group_rows(
        ((z.group or "?", z.entry.cgroup_id, z.pinned_bytes, z.swap_bytes,
          holding_kinds(found.get(z.entry.address, []), z.unexplained_refs))
         for z in report.zombies), live)


def source_for(vmcore: Optional[str], vmlinux: Optional[str]) -> Source:
    return Source(vmcore=os.path.abspath(vmcore) if vmcore else None,
                  vmlinux=os.path.abspath(vmlinux) if vmlinux else None,
                  live=vmcore is None)
