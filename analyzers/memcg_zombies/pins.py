"""
What pins each dying memcg, in one line
---------------------------------------

Turns the pinners' findings (:mod:`memcg_zombies.pinners`) into what a reader wants
first: how much of the css refcount they explain, how much memory they hold, and a
one-line verdict such as "held by 1024 shmem pages of /cache.bin (tmpfs)".
"""

from dataclasses import replace
from typing import Dict, Iterable, List, Optional, Set, Tuple

from memcg_zombies.report import HeldBy, PagePin, Pin, Process, SocketPin
from memcg_zombies.units import unit_of

__all__ = ("explain", "held_bytes", "held_by", "holding_kinds", "verdict", "sort_pins")


def sort_pins(pins: List[Pin]) -> List[Pin]:
    """What holds the css first (pins with css refs), then by memory held."""
    return sorted(pins, key=lambda p: (p.css_refs > 0, p.bytes, p.count), reverse=True)


def explain(refcnt: Optional[int], pins: List[Pin]) -> Tuple[int, Optional[int]]:
    """(css refs the pins account for, refs left unexplained; None if unreadable)."""
    explained = sum(p.css_refs for p in pins)
    return explained, None if refcnt is None else refcnt - explained


def held_bytes(pins: List[Pin]) -> Tuple[int, int]:
    """(bytes of RAM, bytes of swap) the pins keep allocated."""
    ram = sum(p.bytes for p in pins if not p.on_swap)
    swap = sum(p.bytes for p in pins if p.on_swap)
    return ram, swap


_PAGE_KINDS = {"pagecache": "page-cache", "shmem": "shmem", "anon": "anon",
               "swapcache": "swap-cache", "kmem": "kmem"}
#: Processes named in a verdict before the rest are counted (by name).
_SHOWN_PROCESSES = 3


def _processes(procs: List[Process], fds: Optional[Dict[Process, List[int]]] = None) -> str:
    """"zhog (pid 114)", "zhog (pid 114, fds 3 and 4)", "a (pid 1), b (pid 2) and 3
    other processes (c, d, e)": who to look at, never an unnamed count."""
    def one(p: Process) -> str:
        got = sorted(fds.get(p, [])) if fds else []
        if not got:
            return str(p)
        nums = ", ".join(map(str, got[:-1])) + (" and " if len(got) > 1 else "") + str(got[-1])
        return f"{p.comm} (pid {p.pid}, fd{'s' if len(got) > 1 else ''} {nums})"
    shown = [one(p) for p in procs[:_SHOWN_PROCESSES]]
    rest = procs[_SHOWN_PROCESSES:]
    if rest:
        names = ", ".join(sorted({p.comm for p in rest}))
        shown.append(f"{len(rest)} other process{'es' if len(rest) > 1 else ''} ({names})")
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]


def _holders(pin: Pin) -> str:
    """" mapped by ..." / " open in ...", or "" where no process is known."""
    if isinstance(pin, PagePin) and pin.mapped_by:
        return " mapped by " + _processes(pin.mapped_by)
    if isinstance(pin, SocketPin) and pin.holders:
        fds: Dict[Process, List[int]] = {}
        for h in pin.holders:
            fds.setdefault(Process(h.pid, h.comm), []).append(h.fd)
        return " open in " + _processes(sorted(fds), fds)
    return ""


def phrase(pin: Pin) -> str:
    """One pin in words: "1024 shmem pages of /cache.bin (tmpfs)"."""
    n = pin.count
    s = "" if n == 1 else "s"
    if pin.kind in _PAGE_KINDS:
        text = f"{n} {_PAGE_KINDS[pin.kind]} page{s}"
        per_file = pin.kind in ("pagecache", "shmem")
        return f"{text} of {pin.what}" if pin.what and per_file else text + _holders(pin)
    if pin.kind == "child":
        return f"child {pin.what}"
    if pin.kind == "swap":
        return f"{n} swap entr{'y' if n == 1 else 'ies'}"
    if pin.kind == "socket":
        what = f" ({pin.what})" if pin.what else ""
        return f"{n} socket{s}{what}{_holders(pin)}"
    if pin.kind == "cgwb":
        return pin.what or "cgroup writeback"
    if pin.kind == "slab" and pin.unit == "pages":
        return f"{n} slab page{s} of per-memcg caches"  # up to v5.2: page->mem_cgroup
    if pin.kind == "slab":
        return f"{n} {pin.what} object{s}"
    if pin.kind == "kmem_cache":
        # v4.x-v5.8 per-memcg caches (pinners/kmem_caches.py).
        return f"kmem cache {pin.what}" if n == 1 and pin.what else f"{n} kmem caches"
    unit = unit_of(n, pin.unit)
    return f"{n} {pin.kind} {unit}" + (f" ({pin.what})" if pin.what else "")


def _grouped(pins: List[Pin]) -> List[Pin]:
    """Pins of one kind added up for the one-line verdict, except page cache, which
    stays per file (the file is the answer)."""
    out: List[Pin] = []
    by_kind: Dict[str, Pin] = {}
    for p in pins:
        if p.kind in ("pagecache", "shmem", "child"):
            out.append(p)
        elif p.kind in by_kind:
            g = by_kind[p.kind]
            g.count += p.count
            g.bytes += p.bytes
            g.css_refs += p.css_refs
            g.what = ""
            if isinstance(g, SocketPin) and isinstance(p, SocketPin):
                g.holders = g.holders + [h for h in p.holders if h not in g.holders]
            if isinstance(g, PagePin) and isinstance(p, PagePin) and p.mapped_by:
                g.mapped_by = sorted(set(g.mapped_by or []) | set(p.mapped_by))
        else:
            by_kind[p.kind] = replace(p)
            out.append(by_kind[p.kind])
    return sort_pins(out)


def _short(pin: Pin) -> str:
    """A pin without its detail (the file, the socket), for the verdict's tail."""
    n, s = pin.count, "" if pin.count == 1 else "s"
    if pin.kind in _PAGE_KINDS:
        return f"{n} {_PAGE_KINDS[pin.kind]} page{s}" + _holders(pin)
    if pin.kind == "socket":
        return f"{n} socket{s}" + _holders(pin)
    return phrase(pin)


def verdict(refcnt: Optional[int], pins: List[Pin], shown: int = 2) -> str:
    """The one-line answer to "why is this memcg still here?": the `shown` largest
    holders in full, the others by kind and count, never an unnamed "N more"."""
    holding = [p for p in _grouped(pins) if p.css_refs > 0]
    explained, unexplained = explain(refcnt, pins)
    parts = [phrase(p) for p in holding[:shown]]
    rest = holding[shown:]
    if len(rest) > 3:
        kinds = sorted({p.kind for p in rest})
        parts.append(f"{len(rest)} more holders ({', '.join(kinds)})")
    else:
        parts += [_short(p) for p in rest]
    if len(parts) > 1:
        parts[-2:] = [f"{parts[-2]} and {parts[-1]}"]
    text = "held by " + ", ".join(parts) if parts else ""
    if unexplained and unexplained < 0:
        extra = -unexplained
        text += f"; pins count {extra} more ref{'' if extra == 1 else 's'} than css.refcnt"
    elif unexplained:
        tail = f"{unexplained} ref{'' if unexplained == 1 else 's'} unexplained"
        text = f"{text}; {tail}" if text else f"held by {tail}"
    if not text:
        text = "nothing holds it (refcount unreadable)" if refcnt is None else \
            "nothing holds it (about to be released)"
    return text


def holding_kinds(pins: List[Pin], unexplained: Optional[int]) -> Set[str]:
    """The kinds of pin that hold a memcg (css refs), "unexplained" for refs no pin has."""
    kinds = {p.kind for p in pins if p.css_refs > 0}
    return kinds | ({"unexplained"} if unexplained and unexplained > 0 else set())


def held_by(zombies: Iterable[Tuple[List[Pin], Optional[int]]]) -> List[HeldBy]:
    """
    What holds the dying memcgs, per kind of pin, from each zombie's (pins, refs
    left unexplained): how many memcgs pins of a kind hold (css refs), how many
    they hold alone (remove those referrers and the memcg can be released), and
    how much they pin. Unexplained refs count as a kind of their own. The fleet
    question: with 100,000 zombies, which referrers keep most of them.
    """
    rows: Dict[str, HeldBy] = {}
    for pins, unexplained in zombies:
        kinds = holding_kinds(pins, unexplained)
        for p in pins:
            if p.css_refs <= 0:
                continue  # reparented, or never a css ref: listed, not holding
            r = rows.setdefault(p.kind, HeldBy(p.kind, 0, 0, 0, p.unit, 0))
            if p.unit == r.unit:
                r.count += p.count
            r.bytes += p.bytes
        if unexplained and "unexplained" in kinds:
            rows.setdefault("unexplained", HeldBy("unexplained", 0, 0, 0, "refs", 0)).count \
                += unexplained
        for k in kinds:
            rows[k].memcgs += 1
            if len(kinds) == 1:
                rows[k].alone += 1
    return sorted(rows.values(), key=lambda r: (r.memcgs, r.alone, r.bytes), reverse=True)
