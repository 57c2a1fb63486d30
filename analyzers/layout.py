"""
Era facts
---------

Every difference between kernel versions that the analyzers care about is
decided here, by looking at the types and symbols in the debug info, never at
the release string (distribution kernels backport freely). Each branch names
the upstream change that introduced the layout it handles.

Use :func:`layout` to get the (cached) :class:`Layout` of a program.
"""

from typing import Dict, Optional

from drgn import FaultError, Object, Program, TypeKind

__all__ = ("Layout", "layout", "has_member")

# enum in include/linux/cgroup-defs.h; values have not changed since they were
# introduced, they are only the fallback when the enumerators are not in the
# debug info.
_CSS_FLAGS = (
    ("CSS_NO_REF", 1),
    ("CSS_ONLINE", 2),
    ("CSS_RELEASED", 4),
    ("CSS_VISIBLE", 8),
    ("CSS_DYING", 0x10),
)


def _type(prog: Program, name: str):
    try:
        return prog.type(name)
    except LookupError:
        return None


def has_member(prog: Program, type_name: str, member: str) -> bool:
    """Whether ``type_name`` exists and has ``member`` (False when either is missing)."""
    t = _type(prog, type_name)
    if t is None:
        return False
    try:
        return t.has_member(member)
    except (LookupError, TypeError):
        return False


def _constant(prog: Program, name: str) -> Optional[int]:
    try:
        return prog[name].value_()
    except (LookupError, ValueError):
        return None


class Layout:
    """What this kernel looks like, read once from its debug info."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog

        # kernfs_node::parent became the RCU pointer __parent in v6.15,
        # 633488947ef6 ("kernfs: Use RCU to access kernfs_node::parent.").
        self.kn_parent = (
            "__parent"
            if has_member(prog, "struct kernfs_node", "__parent")
            else "parent"
        )

        # The kernfs node id is the cgroup id.
        # - v5.5+, 67c0496e87d1 ("kernfs: convert kernfs_node->id from union
        #   kernfs_node_id to u64"): a u64; on 64-bit the low 32 bits are the
        #   inode number and the generation is not encoded, so id == ino.
        # - v4.14..v5.4: union kernfs_node_id { struct { u32 ino, generation; }; u64 id; }
        #   (the id is what cgroup_id() returns, the inode is .ino).
        # - before v4.14: only "unsigned int ino".
        kn_type = _type(prog, "struct kernfs_node")
        self.kn_id = None
        if kn_type is not None and kn_type.has_member("id"):
            id_type = kn_type.member("id").type
            while id_type.kind == TypeKind.TYPEDEF:
                id_type = id_type.type
            self.kn_id = "u64" if id_type.kind == TypeKind.INT else "union"
        elif kn_type is not None and kn_type.has_member("ino"):
            self.kn_id = "ino"

        # v5.10, 2b0d3d3e4fcf ("percpu_ref: reduce memory footprint of
        # percpu_ref in fast path") moved everything but percpu_count_ptr into
        # a separately allocated struct percpu_ref_data.
        self.percpu_ref_data = has_member(prog, "struct percpu_ref", "data")

        # cgroup.stat's nr_dying_descendants, v4.14, ec39225cca42 ("cgroup: add
        # cgroup.stat interface with basic hierarchy stats").
        self.has_nr_dying_descendants = has_member(
            prog, "struct cgroup", "nr_dying_descendants"
        )
        # Per-subsystem dying css counts, v6.11, ab0312526867 ("cgroup: Show #
        # of subsystem CSSes in cgroup.stat"). Counts a dying memcg css even
        # when its cgroup is alive (memory disabled in subtree_control).
        self.has_nr_dying_subsys = has_member(prog, "struct cgroup", "nr_dying_subsys")

        self.memory_cgrp_id = _constant(prog, "memory_cgrp_id")

        # CSS_DYING only exists since about v4.16-v4.18 (believed, not
        # checked); read whatever enumerators this kernel has.
        self.css_flags: Dict[str, int] = {}
        for name, fallback in _CSS_FLAGS:
            value = _constant(prog, name)
            if value is not None:
                self.css_flags[name] = value
            elif name != "CSS_DYING":
                self.css_flags[name] = fallback
        self.CSS_ONLINE = self.css_flags["CSS_ONLINE"]
        self.CSS_RELEASED = self.css_flags["CSS_RELEASED"]

        t = _type(prog, "unsigned long")
        self.bits_per_long = t.size * 8 if t is not None else 64

        self._init_pages(prog)
        self._init_refs(prog)
        self._init_state(prog)

    # -- Pages, folios and slab: how memory names its owner --------------------
    def _init_pages(self, prog: Program) -> None:
        pass  # [pages-and-slab facts]

    # -- References held elsewhere: ids, swap, sockets, writeback, stock, bpf -----
    def _init_refs(self, prog: Program) -> None:
        pass  # [refs facts]

    # -- State of a memcg: counters, stats, reparenting, cost ----------------------
    def _init_state(self, prog: Program) -> None:
        pass  # [state facts]

    def kn_parent_of(self, kn: Object) -> Object:
        """``kn->parent`` (``kn->__parent`` on v6.15+)."""
        return getattr(kn, self.kn_parent)

    def kn_id_of(self, kn: Object) -> Optional[int]:
        """The kernfs node id as cgroup_id() returns it."""
        if self.kn_id == "u64":
            return kn.id.value_()
        if self.kn_id == "union":
            return kn.id.id.value_()
        if self.kn_id == "ino":
            return kn.ino.value_()
        return None

    def memcg_enabled(self) -> Optional[bool]:
        """
        False when booted with cgroup_disable=memory: mem_cgroup_disabled()
        tests the static key memory_cgrp_subsys_enabled_key that
        include/linux/cgroup.h generates per subsystem (believed since v4.6).
        None when the key is not in the debug info.
        """
        try:
            key = self.prog["memory_cgrp_subsys_enabled_key"]
            return bool(key.key.enabled.counter.value_())
        except (LookupError, AttributeError, ValueError, FaultError):
            return None

    def facts(self) -> Dict[str, object]:
        """The era facts, for the report."""
        d = self._facts_common()
        d.update(self._facts_pages())  # [pages-and-slab facts() entries]
        d.update(self._facts_refs())  # [refs facts() entries]
        d.update(self._facts_state())  # [state facts() entries]
        return d

    def _facts_pages(self) -> Dict[str, object]:
        return {}  # [pages-and-slab facts() dict]

    def _facts_refs(self) -> Dict[str, object]:
        return {}  # [refs facts() dict]

    def _facts_state(self) -> Dict[str, object]:
        return {}  # [state facts() dict]

    def _facts_common(self) -> Dict[str, object]:
        return {
            "kernfs_parent": self.kn_parent,
            "kernfs_id": self.kn_id,
            "percpu_ref": "percpu_ref_data" if self.percpu_ref_data else "inline",
            "has_nr_dying_descendants": self.has_nr_dying_descendants,
            "has_nr_dying_subsys": self.has_nr_dying_subsys,
            "memory_cgrp_id": self.memory_cgrp_id,
            "css_flags": dict(self.css_flags),
            "bits_per_long": self.bits_per_long,
        }


_cache: Dict[int, Layout] = {}


def layout(prog: Program) -> Layout:
    """The :class:`Layout` of ``prog``, computed on first use."""
    # Programs are not hashable by value on every drgn version; key by id()
    # and keep the program alive in the Layout so the id is not reused.
    lay = _cache.get(id(prog))
    if lay is None or lay.prog is not prog:
        lay = _cache[id(prog)] = Layout(prog)
    return lay
