"""
Rendering
---------

A :class:`~memcg_zombies.report.Report` as human-readable text or as JSON
(schema ``memcg-zombies/1``, see :meth:`Report.to_dict`).
"""

import json
from typing import Dict, List, Optional

from memcg_zombies.report import Report

__all__ = ("render_json", "render_text", "flag_names")


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


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


def _s(value: object) -> str:
    return "-" if value is None else str(value)


def render_text(report: Report) -> str:
    k = report.kernel
    css_flags = k.facts.get("css_flags", {})
    lines: List[str] = [
        f"kernel {_s(k.release)}, memory controller on {_s(k.hierarchy)}",
        "",
    ]
    rows = [("STATE", "CSS_ID", "CGROUP_ID", "DEAD", "REFCNT", "DYING_DESC",
             "DYING_MEM", "FLAGS", "MEMCG", "PATH")]
    for m in report.memcgs:
        rows.append((
            _s(m.state),
            _s(m.css_id),
            _s(m.cgroup_id),
            {True: "yes", False: "no", None: "?"}[m.refcnt_dead],
            _s(m.refcnt),
            _s(m.nr_dying_descendants),
            _s(m.nr_dying_subsys_memory),
            flag_names(m.flags, css_flags),
            hex(m.address),
            _s(m.path),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])

    s = report.summary
    lines += [
        "",
        f"{s.total} memcgs: {s.online} online, {s.dying} dying"
        + (f", {s.released} released" if s.released else "")
        + (f", {s.unknown} unreadable" if s.unknown else ""),
        f"root cgroup nr_dying_descendants: {_s(s.root_nr_dying_descendants)}"
        + (f", nr_dying_subsys[memory]: {s.root_nr_dying_subsys_memory}"
           if s.root_nr_dying_subsys_memory is not None else ""),
    ]
    if report.faults:
        lines += ["", f"{len(report.faults)} faults (results may be incomplete):"]
        for f in report.faults:
            addr = "" if f.address is None else f" at {f.address:#x}"
            lines.append(f"  {f.where}{addr}: {f.error}")
    return "\n".join(lines) + "\n"
