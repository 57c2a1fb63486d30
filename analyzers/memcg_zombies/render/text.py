"""
The terminal report: a header that says first whether the report is partial, the
leaks by name pattern, what holds them, one line (or two, within COLUMNS) per
zombie, and with ``detail`` each zombie's pins, reparenting, counters and cost.
"""

import textwrap
from typing import Dict, List, Optional, Tuple

from memcg_zombies.report import (ChildPin, Group, HeldBy, MemcgState, PagePin, Pin,
                                  ReparentablePin, Report, SocketPin, SwapPin, WritebackPin,
                                  Zombie)
from memcg_zombies.units import human_bytes, unit_of

__all__ = ("render_text", "render_memcgs", "flag_names", "COLUMNS")


def flag_names(flags: Optional[int], names: Dict[str, int]) -> str:
    """``CSS_*`` flags as "ONLINE|VISIBLE", with unknown bits in hex."""
    if flags is None:
        return "?"
    parts = []
    for name, bit in sorted(names.items(), key=lambda kv: kv[1]):
        if flags & bit:
            parts.append(name[len("CSS_"):] if name.startswith("CSS_") else name)
            flags &= ~bit
    if flags:
        parts.append(hex(flags))
    return "|".join(parts) or "0"


_MAX_FAULTS_SHOWN = 20


def dash(value: object) -> str:
    """A value, or "-" where it could not be read."""
    return "-" if value is None else str(value)


def render_memcgs(report: Report) -> str:
    """The listing of every memcg (--all, or when pins were not asked for)."""
    k = report.kernel
    css_flags = k.css_flags
    lines: List[str] = []
    rows = [("STATE", "CSS_ID", "CGROUP_ID", "DEAD", "REFCNT", "DYING_DESC",
             "DYING_MEM", "FLAGS", "MEMCG", "PATH")]
    for m in report.memcgs:
        rows.append((
            dash(m.state),
            dash(m.css_id),
            dash(m.cgroup_id),
            {True: "yes", False: "no", None: "?"}[m.refcnt_dead],
            dash(m.refcnt),
            dash(m.nr_dying_descendants),
            dash(m.nr_dying_subsys_memory),
            flag_names(m.flags, css_flags),
            hex(m.address),
            dash(m.path),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])

    return "\n".join(lines) + "\n"


def header(report: Report) -> List[str]:
    """What was read, whether the report is partial (line 2), the counts and totals."""
    k, src, s = report.kernel, report.source, report.summary
    what = "live kernel (/proc/kcore): memory changed during the walk" if src.live \
        else f"vmcore {src.vmcore}" if src.vmcore else "drgn program"
    lines = [f"kernel {dash(k.release)}, memory controller on {dash(k.hierarchy)}"]
    if report.faults:
        # Line 2, before any number a reader could take as the whole answer.
        n = len(report.faults)
        lines.append(f"PARTIAL REPORT: {n} fault{'' if n == 1 else 's'}, kernel memory that "
                     "could not be read (listed last)")
    lines += [
        f"read from the {what}" if what.startswith("live") else f"read from {what}",
        f"{s.total} memcgs: {s.online} online, {s.dying} dying"
        + (f", {s.released} released" if s.released else "")
        + (f", {s.unknown} unreadable" if s.unknown else "")
        + (f" ({killed} in a live cgroup, via subtree_control)"
           if (killed := sum(1 for m in report.memcgs
                             if m.state == "dying" and m.cgroup_online)) else ""),
        f"root cgroup nr_dying_descendants: {dash(s.root_nr_dying_descendants)}"
        + (f", nr_dying_subsys[memory]: {s.root_nr_dying_subsys_memory}"
           if s.root_nr_dying_subsys_memory is not None else ""),
    ]
    if s.pinned_bytes is not None:
        lines.append(f"dying memcgs pin {human_bytes(s.pinned_bytes)} of RAM"
                     + (f" and {human_bytes(s.swap_bytes)} of swap" if s.swap_bytes else ""))
        lines.append(f"their own structures cost {human_bytes(s.cost_bytes)}")
    if src.scan:
        sc = src.scan
        how = ("C engine, " + (f"{sc.threads} libkdumpfile reader(s)" if sc.reader == "kdump"
                               else "reads through drgn")) if sc.engine == "c" \
            else "Python engine"
        lines.append(f"page scan: {sc.pages:,} struct pages in {sc.seconds:.2f} s ({how})")
    return lines


def _faults(report: Report, wide: bool = False) -> List[str]:
    lines: List[str] = []
    if report.faults:
        lines += ["", f"{len(report.faults)} faults (results may be incomplete):"]
        for f in report.faults[:_MAX_FAULTS_SHOWN]:
            addr = "" if f.address is None or f"{f.address:#x}" in f.where \
                else f" at {f.address:#x}"
            text = f"  {f.where}{addr}: {f.error}"
            lines += [text] if wide else textwrap.wrap(text, COLUMNS, subsequent_indent="    ",
                                                       break_on_hyphens=False)
        if len(report.faults) > _MAX_FAULTS_SHOWN:
            lines.append(f"  ... {len(report.faults) - _MAX_FAULTS_SHOWN} more (all in --format json)")
    return lines


def _percent(x: Optional[float]) -> str:
    return "?" if x is None else f"{x * 100:.0f}%"


def group_age(g: Group) -> str:
    """What the ids say of a group's age (groups.py: creation order, nothing more)."""
    frac = g.newest_older_than_live
    if frac is None:
        return "age unknown (no cgroup id)"
    text = ("newest newer than every live cgroup" if frac == 0 else
            f"newest older than {_percent(frac)} of live cgroups")
    n, newer = g.live_under_parent, g.live_under_parent_newer
    if n and frac:
        text += (f", all {n} under {g.parent}" if newer == n else
                 f", newer than all {n} under {g.parent}" if newer == 0 else
                 f", {newer} of {n} under {g.parent}")
    return text


def _groups(rows: List[Group], shown: Optional[int]) -> List[str]:
    """The leaks: per pattern its members, memory, holders and age, within COLUMNS."""
    out = []
    for g in rows[:shown or None]:
        out.append(f"  {g.count:>6,}  {human_bytes(g.pinned_bytes):>10}  {g.pattern}")
        held = ", ".join(f"{k} {n:,}" for k, n in g.kinds.items()) or "nothing"
        out += textwrap.wrap(f"held by {held}; {group_age(g)}", COLUMNS, initial_indent=" " * 22,
                             subsequent_indent=" " * 24, break_on_hyphens=False)
    if shown and len(rows) > shown:
        out.append(f"  ... {len(rows) - shown} more groups (--groups 0 shows all)")
    return out


def _held_by(rows: List[HeldBy]) -> List[str]:
    """Per kind of pin: the memcgs it holds, those it holds alone, how much."""
    table = [("KIND", "MEMCGS", "ALONE", "PINS", "MEMORY")]
    for r in rows:
        table.append((r.kind, f"{r.memcgs:,}", f"{r.alone:,}",
                      f"{r.count:,} {unit_of(r.count, r.unit)}",
                      human_bytes(r.bytes) if r.bytes else "-"))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    right = (False, True, True, True, True)
    return ["  " + "  ".join(c.rjust(w) if rj else c.ljust(w)
                             for c, w, rj in zip(t, widths, right)).rstrip() for t in table]


#: The width the default text report keeps to (--wide: one line per zombie).
COLUMNS = 80


def _zombie_table(zombies: List[Zombie], wide: bool = False) -> List[str]:
    """One line per zombie with its verdict (wide), or the numbers and path on one
    line and the verdict wrapped below it, within COLUMNS."""
    rows = [("PINNED", "SWAP", "REFS", "CGROUP_ID", "PATH", "VERDICT")]
    for z in zombies:
        rows.append((human_bytes(z.pinned_bytes), human_bytes(z.swap_bytes) if z.swap_bytes else "-",
                     dash(z.entry.refcnt), dash(z.entry.cgroup_id), dash(z.entry.path), z.verdict))
    if wide:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        return ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 2)]
    out = ["  ".join(c.ljust(w) for c, w in zip(rows[0][:4], widths)) + "  PATH / verdict"]
    for r in rows[1:]:
        out.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        out += textwrap.wrap(r[5], COLUMNS, initial_indent="    ", subsequent_indent="      ",
                             break_on_hyphens=False)
    return out


# memory.stat names of the stats state.py reads, in the order a reader scans them.
_STAT_NAMES = (("NR_FILE_PAGES", "file"), ("NR_SHMEM", "shmem"), ("NR_ANON_MAPPED", "anon"),
               ("NR_FILE_DIRTY", "file_dirty"), ("NR_WRITEBACK", "file_writeback"),
               ("MEMCG_SWAP", "swap"), ("MEMCG_SOCK", "sock"), ("MEMCG_KMEM", "kernel"),
               ("NR_SLAB_RECLAIMABLE_B", "slab_reclaimable"),
               ("NR_SLAB_UNRECLAIMABLE_B", "slab_unreclaimable"), ("MEMCG_PERCPU_B", "percpu"))


def _counters(st: MemcgState) -> List[str]:
    """Page counters, memcg id and the main memory.stat values, frozen ones marked."""
    counters = ", ".join(f"{name} {c.usage} pages (max seen {c.watermark})"
                         for name, c in st.counters.items() if c.usage or name == "memory")
    ident = (f"memcg id {st.memcg_id} ref {st.memcg_id_ref}"
             + (f", still in {st.id_table}" if st.in_id_table else ""))
    frozen = set(st.frozen.frozen if st.frozen is not None else [])
    stats = []
    for item, name in _STAT_NAMES:
        v = st.stats.get(item)
        if v and v.bytes:
            stats.append(f"{name} {human_bytes(v.bytes)}" + (" (frozen)" if item in frozen else ""))
    return [f"  counters: {counters}; {ident}",
            f"  memory.stat: {', '.join(stats) or 'all zero'}"]


def _paths(value: object, paths: Dict[str, str]) -> object:
    """memcg addresses (hex strings, alone or in a list) as cgroup paths where known."""
    if isinstance(value, list):
        return ",".join(str(_paths(v, paths)) for v in value)
    return paths.get(value, value) if isinstance(value, str) else value


def _pin_facts(p: Pin) -> List[Tuple[str, object]]:
    """The facts a pin's detail line shows, in the JSON ``detail`` order."""
    facts: List[Tuple[str, object]] = []
    if isinstance(p, PagePin):
        if p.file is not None:
            facts += [("ino", p.file.ino), ("fs", p.file.fs)]
        if p.mapping is not None:
            facts += [("dirty", p.dirty), ("writeback", p.writeback)]
    elif isinstance(p, SocketPin):
        if p.state is not None:
            facts.append(("state", p.state))
        if p.holders and p.ino is not None:
            facts.append(("ino", p.ino))
    elif isinstance(p, SwapPin):
        facts += [("memcg_id", p.memcg_id), ("on_swap", p.on_swap)]
    elif isinstance(p, (WritebackPin, ChildPin)):
        facts.append(("state", p.state))
    if isinstance(p, ReparentablePin) and p.reparented is not None:
        facts.append(("reparented_to", p.reparented.to))
    return facts


def zombie_detail(z: Zombie, paths: Dict[str, str]) -> List[str]:
    """One zombie in full: its pins, refcount, reparenting, counters and cost (memcg
    addresses shown as their ``paths`` where known)."""
    e = z.entry
    lines = [f"{dash(e.path)}  (cgroup id {dash(e.cgroup_id)}, css id {dash(e.css_id)}, "
             f"mem_cgroup {e.address:#x})",
             f"  {z.verdict}",
             f"  css refcount {dash(e.refcnt)}: {z.explained_refs} explained by pins, "
             f"{dash(z.unexplained_refs)} unexplained"]
    if z.pins:
        lines.append("  pins:")
        for p in z.pins:
            extra = ", ".join(f"{k}={_paths(v, paths)}" for k, v in _pin_facts(p))
            if isinstance(p, SocketPin) and p.holders:
                extra += (("; " if extra else "") + "held open by "
                          + ", ".join(str(h) for h in p.holders))
            lines.append(f"    {p.kind:<10} {p.count:>7} {unit_of(p.count, p.unit):<8} "
                         f"{human_bytes(p.bytes):>10}  refs {p.css_refs:<6} {p.what}"
                         + (f"  [{extra}]" if extra else ""))
    if z.reparenting:
        lines.append("  reparenting:")
        for r in z.reparenting:
            lines.append(f"    {r.mechanism:<15} {r.verdict:<19} {r.reason}")
    if z.state is not None:
        lines += _counters(z.state)
    if z.cost is not None:
        parts = ", ".join(f"{p.name} {human_bytes(p.bytes)}" for p in z.cost.parts)
        lines.append(f"  cost: {human_bytes(z.cost.total_bytes)} ({parts})")
    return lines


def render_text(report: Report, top: Optional[int] = 20, detail: bool = False,
                listing: bool = False, wide: bool = False,
                shown_groups: Optional[int] = 10) -> str:
    """
    The terminal report: header, where the zombies are, one entry per zombie (largest
    pinned memory first, ``top`` of them; 0 or None for all), then with ``detail``
    each zombie's pins, refcount, reparenting, counters and cost. The zombie table
    keeps to COLUMNS unless ``wide``; ``shown_groups`` groups are listed (0: all).
    """
    lines = header(report)
    if listing or not report.zombies and report.summary.pinned_bytes is None:
        lines += ["", render_memcgs(report).rstrip("\n")]
    zs = report.zombies
    if zs:
        shown = zs if not top else zs[:top]
        groups = report.summary.groups
        lines += ["", f"which leaks: {len(groups)} group{'' if len(groups) == 1 else 's'} by "
                      "name pattern, largest first:",
                  "  MEMCGS      PINNED  PATTERN"] + _groups(groups, shown_groups)
        if report.summary.held_by:
            lines += ["", "what holds them (ALONE: nothing else does; a memcg can count "
                          "under several):"] + _held_by(report.summary.held_by)
        lines += ["", f"dying memcgs, most pinned memory first ({len(shown)} of {len(zs)}):"]
        lines += _zombie_table(shown, wide)
        if len(shown) < len(zs):
            lines.append(f"... {len(zs) - len(shown)} more (--top 0 shows all)")
        if detail:
            paths = {hex(m.address): m.path for m in report.memcgs if m.path}
            for z in shown:
                lines += [""] + zombie_detail(z, paths)
    lines += _faults(report, wide)
    return "\n".join(lines) + "\n"
