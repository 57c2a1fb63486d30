"""
Which leak a dying memcg belongs to
-----------------------------------

A host with 100,000 zombies has one or two leaks: a service that makes a cgroup per
job, session, container or timer run and leaves something behind. A zombie's group is
its path with the per-instance parts of each name replaced by ``*``:

- UUIDs, ``-`` or ``_`` separated (the kubelet's pod slices write ``_``), and runs of
  12 or more hex digits with at least one digit (container ids, ``run-r<32 hex>``);
- numbers in systemd unit names (``.scope``, ``.service``, ``.slice``...):
  ``session-3.scope``, ``user-1000.slice``, ``worker@7.service``, ``run-u42.scope``;
- numbers in any other name that siblings share but for them (``z0`` ... ``z999``
  under one parent); a lone ``ext4`` keeps its name.

``depth`` cuts a pattern after that many names (``--group-depth``).

Relative age. Cgroup ids (``kn->id``, the directory's inode number) are allocated in
increasing order within a boot: kernfs allocates the low 32 bits cyclically and,
since v5.5 ("kernfs: use 64bit inos if ino_t is 64bit"), counts their wraps in the
high 32 bits. So a smaller id was created earlier, and a zombie older than most live
cgroups belongs to a leak that began long ago. That is all ids prove: nothing about
when a cgroup was removed or how many seconds ago anything happened, nothing across
boots; before v5.5 (32-bit ids) the order breaks where the allocation wrapped.
"""

import re
from bisect import bisect_right
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from memcg_zombies.report import Group

__all__ = ("patterns", "group_rows", "older_than")

_UUID = re.compile(r"[0-9a-f]{8}([-_])[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}",
                   re.IGNORECASE)
_HEX = re.compile(r"(?=[a-f]*[0-9])[0-9a-f]{12,}", re.IGNORECASE)
_UNIT = re.compile(r"\.(scope|service|slice|socket|mount|swap|target|timer|path|device)$")
_NUM = re.compile(r"[0-9]+")


def _strong(name: str) -> str:
    """`name` with what is per-instance whatever its siblings are replaced."""
    name = _HEX.sub("*", _UUID.sub("*", name))
    return _NUM.sub("*", name) if _UNIT.search(name) else name


def patterns(paths: Iterable[str], depth: Optional[int] = None) -> Dict[str, str]:
    """{path: its group's pattern} for cgroup paths (the dying memcgs' paths)."""
    comps = {p: [c for c in p.split("/") if c] for p in set(paths)}
    if depth is not None:
        comps = {p: c[:depth] for p, c in comps.items()}
    done = {p: "" for p in comps}
    for d in range(max((len(c) for c in comps.values()), default=0)):
        names = {p: _strong(c[d]) for p, c in comps.items() if d < len(c)}
        # Siblings (same pattern so far) whose names differ only in numbers.
        alike: Dict[Tuple[str, str], set] = defaultdict(set)
        for p, name in names.items():
            alike[(done[p], _NUM.sub("*", name))].add(name)
        for p, name in names.items():
            weak = _NUM.sub("*", name)
            done[p] += "/" + (weak if len(alike[(done[p], weak)]) > 1 else name)
    return {p: done[p] or "/" for p in comps}


def older_than(cgroup_id: Optional[int], live_ids: Sequence[int]) -> Optional[float]:
    """The fraction of live cgroups (sorted ids) created after `cgroup_id`."""
    if cgroup_id is None or not live_ids:
        return None
    return (len(live_ids) - bisect_right(live_ids, cgroup_id)) / len(live_ids)


def _parent(pattern: str) -> str:
    """The literal part of a pattern: its names before the first with a '*' (a literal
    pattern's parent)."""
    names = pattern.strip("/").split("/")
    cut = next((i for i, n in enumerate(names) if "*" in n), len(names) - 1)
    return "/" + "/".join(names[:cut])


def group_rows(zombies: Iterable[Tuple[str, Optional[int], int, int, Iterable[str]]],
               live: Iterable[Tuple[str, int]]) -> List[Group]:
    """
    The groups, most pinned memory (then most members) first, from each zombie's
    (pattern, cgroup id, pinned bytes, swap bytes, kinds holding it) and the live
    cgroups' (path, cgroup id). Each row: pattern, members, bytes, per kind the members
    it holds, the oldest and newest member's id, the fraction of live cgroups the
    newest member is older than, and the live cgroups under the pattern's literal
    parent with how many of them are newer than the newest member.
    """
    rows: Dict[str, Group] = {}
    for pattern, cid, pinned, swap, kinds in zombies:
        r = rows.setdefault(pattern, Group(pattern, 0, 0, 0, {}, None, None))
        r.count += 1
        r.pinned_bytes += pinned
        r.swap_bytes += swap
        for k in kinds:
            r.kinds[k] = r.kinds.get(k, 0) + 1
        if cid is not None:
            r.oldest_cgroup_id = cid if r.oldest_cgroup_id is None else min(r.oldest_cgroup_id, cid)
            r.newest_cgroup_id = cid if r.newest_cgroup_id is None else max(r.newest_cgroup_id, cid)
    live = list(live)
    live_ids = sorted(cid for _, cid in live)
    for r in rows.values():
        r.kinds = dict(sorted(r.kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        newest = r.newest_cgroup_id
        r.newest_older_than_live = older_than(newest, live_ids)
        r.parent = _parent(r.pattern)
        under = [cid for path, cid in live if path.startswith(r.parent.rstrip("/") + "/")]
        r.live_under_parent = len(under)
        r.live_under_parent_newer = None if newest is None else \
            sum(1 for cid in under if cid > newest)
    return sorted(rows.values(), key=lambda r: (-r.pinned_bytes, -r.count, r.pattern))
