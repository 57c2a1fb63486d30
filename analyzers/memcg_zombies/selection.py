"""
Which memcgs ``--cgroup`` selects
---------------------------------

A selector is a cgroup path (``/a/b``), a glob over paths (``/kubepods.slice/*``;
``*`` also crosses ``/``), a cgroup id (``cgroup->kn->id``, the directory's inode
number), a css id (``css:N``) or a ``struct mem_cgroup`` address (``0xffff...``).

Each selector must match at least one dying memcg. One that does not is an error
that says what it found instead: a mistake must never print a report that looks like
"nothing pins anything".
"""

import fnmatch
from typing import Iterable, List, Optional

from memcg_zombies.report import MemcgEntry

__all__ = ("NoMatch", "select")

_GLOB = set("*?[")


class NoMatch(ValueError):
    """A selector matched no dying memcg; the message says what it matched."""


def _matches(sel: str, e: MemcgEntry) -> bool:
    if sel.isdigit():
        return e.cgroup_id == int(sel)
    if sel.startswith("css:") and sel[4:].isdigit():
        return e.css_id == int(sel[4:])
    if sel.lower().startswith("0x"):
        try:
            return e.address == int(sel, 16)
        except ValueError:
            return False
    if e.path is None:
        return False
    if _GLOB & set(sel):
        return fnmatch.fnmatchcase(e.path, sel)
    return e.path == (sel.rstrip("/") or "/")


def _name(e: MemcgEntry) -> str:
    return e.path or hex(e.address)


def _why(sel: str, entries: List[MemcgEntry]) -> str:
    """What `sel` matched, when it matched no dying memcg."""
    hits = [e for e in entries if _matches(sel, e)]
    if hits:
        states = ", ".join(f"{_name(e)} is {e.state or 'unreadable'}" for e in hits[:3])
        more = f" (and {len(hits) - 3} more memcgs)" if len(hits) > 3 else ""
        return f"--cgroup {sel}: {states}{more}, not dying"
    hints = []
    if sel.isdigit():
        css = [e for e in entries if e.css_id == int(sel)]
        if css:
            hints.append(f"{sel} is the css id of {_name(css[0])} (select it with css:{sel})")
        return f"--cgroup {sel}: no memcg has cgroup id {sel}" + (
            f"; {hints[0]}" if hints else " (a freed cgroup leaves no memcg behind)")
    if not sel.startswith(("/", "css:", "0x", "0X")) and not _GLOB & set(sel):
        rooted = [e for e in entries if e.path == "/" + sel.strip("/")]
        tail = [e for e in entries if e.path and e.path.endswith("/" + sel.strip("/"))]
        for e in (rooted or tail)[:1]:
            hints.append(f"paths start at the root: did you mean {_name(e)}?")
        return f"--cgroup {sel}: not a cgroup path, id, css:ID or 0xADDRESS" + (
            f"; {hints[0]}" if hints else "")
    return f"--cgroup {sel}: no memcg matches (a freed cgroup leaves no memcg behind)"


def select(entries: Iterable[MemcgEntry], selectors: Optional[List[str]]) -> List[MemcgEntry]:
    """The dying memcgs of ``entries`` that ``selectors`` name (all dying ones when
    there are none). Raises :class:`NoMatch` for a selector that selects nothing."""
    entries = list(entries)
    dying = [e for e in entries if e.state == "dying"]
    if not selectors:
        return dying
    chosen = set()
    for sel in selectors:
        sel = sel.strip()
        hits = {e.address for e in dying if _matches(sel, e)}
        if not hits:
            raise NoMatch(_why(sel, entries))
        chosen |= hits
    return [e for e in dying if e.address in chosen]
