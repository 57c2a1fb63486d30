"""For a bug tracker: a summary, the leaks, what holds them, a table of the zombies
with their details folded, and the faults."""

from typing import Optional

from memcg_zombies.render.text import dash, group_age, header, zombie_detail
from memcg_zombies.units import human_bytes
from memcg_zombies.report import Report

__all__ = ("render_markdown",)


def render_markdown(report: Report, top: Optional[int] = 20) -> str:
    """For a bug tracker: a summary, a table of the zombies and the faults."""
    k, s = report.kernel, report.summary
    lines = [f"### memcg-zombies: {s.dying} dying memcgs on {dash(k.release)}", ""]
    lines += [f"- {line}" for line in header(report)]
    zs = report.zombies if not top else report.zombies[:top]
    if s.groups:
        lines += ["", "| group | memcgs | pinned | held by | age |", "|---|---:|---:|---|---|"]
        lines += [f"| `{g.pattern}` | {g.count:,} | {human_bytes(g.pinned_bytes)} | "
                  + (", ".join(f"{k} {n:,}" for k, n in g.kinds.items()) or "-")
                  + f" | {group_age(g)} |" for g in s.groups[:top or None]]
        if top and len(s.groups) > top:
            lines.append(f"\n{len(s.groups) - top} more groups not shown.")
    if s.held_by:
        lines += ["", "| held by | memcgs | alone | pins | memory |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {r.kind} | {r.memcgs:,} | {r.alone:,} | {r.count:,} {r.unit} "
                  f"| {human_bytes(r.bytes) if r.bytes else '-'} |" for r in s.held_by]
    if zs:
        lines += ["", "| pinned | swap | refs | cgroup id | path | verdict |",
                  "|---:|---:|---:|---:|---|---|"]
        for z in zs:
            lines.append(f"| {human_bytes(z.pinned_bytes)} | {human_bytes(z.swap_bytes) if z.swap_bytes else '-'} "
                         f"| {dash(z.entry.refcnt)} | {dash(z.entry.cgroup_id)} | `{dash(z.entry.path)}` "
                         f"| {z.verdict.replace('|', '/')} |")
        if len(zs) < len(report.zombies):
            lines.append(f"\n{len(report.zombies) - len(zs)} more dying memcgs not shown.")
        lines += ["", "<details><summary>pins and reparenting per memcg</summary>", "", "```"]
        paths = {hex(m.address): m.path for m in report.memcgs if m.path}
        for z in zs:
            lines += zombie_detail(z, paths) + [""]
        lines += ["```", "</details>"]
    if report.faults:
        lines += ["", f"**{len(report.faults)} faults** (results may be incomplete):", ""]
        lines += [f"- `{f.where}`: {f.error}" for f in report.faults[:50]]
    return "\n".join(lines) + "\n"
