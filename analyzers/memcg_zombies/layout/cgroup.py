"""cgroup core and kernfs: how a css is named, flagged, counted and referenced."""

from dataclasses import dataclass
from typing import Dict, Literal, Mapping, Optional

from drgn import Object, Program, TypeKind

from memcg_zombies.layout.probe import constant, find_type, has_member, strip_typedef

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


@dataclass(frozen=True)
class CgroupLayout:
    kn_parent: Literal["__parent", "parent"]
    kn_id: Optional[Literal["u64", "union", "ino"]]
    percpu_ref_data: bool
    has_nr_dying_descendants: bool
    has_nr_dying_subsys: bool
    memory_cgrp_id: Optional[int]
    css_flags: Mapping[str, int]
    CSS_ONLINE: int
    CSS_RELEASED: int
    bits_per_long: int

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


def cgroup_layout(prog: Program) -> CgroupLayout:
    # kernfs_node::parent became the RCU pointer __parent in v6.15,
    # 633488947ef6 ("kernfs: Use RCU to access kernfs_node::parent.").
    kn_parent: Literal["__parent", "parent"] = (
        "__parent" if has_member(prog, "struct kernfs_node", "__parent") else "parent")

    # The kernfs node id is the cgroup id.
    # - v5.5+, 67c0496e87d1 ("kernfs: convert kernfs_node->id from union
    #   kernfs_node_id to u64"): a u64; on 64-bit the low 32 bits are the
    #   inode number and the generation is not encoded, so id == ino.
    # - v4.14..v5.4: union kernfs_node_id { struct { u32 ino, generation; }; u64 id; }
    #   (the id is what cgroup_id() returns, the inode is .ino).
    # - before v4.14: only "unsigned int ino".
    kn_type = find_type(prog, "struct kernfs_node")
    kn_id: Optional[Literal["u64", "union", "ino"]] = None
    if kn_type is not None and kn_type.has_member("id"):
        id_type = strip_typedef(kn_type.member("id").type)
        kn_id = "u64" if id_type.kind == TypeKind.INT else "union"
    elif kn_type is not None and kn_type.has_member("ino"):
        kn_id = "ino"

    # CSS_DYING: 33c35aa48178 ("cgroup: Prevent kill_css() from being called
    # more than once", posted May 2017 against v4.12-rc1; absent in 4.9,
    # present in 4.19, the release between is not in the searchable
    # sources); read whatever enumerators this kernel has.
    css_flags: Dict[str, int] = {}
    for name, fallback in _CSS_FLAGS:
        value = constant(prog, name)
        if value is not None:
            css_flags[name] = value
        elif name != "CSS_DYING":
            css_flags[name] = fallback

    t = find_type(prog, "unsigned long")
    return CgroupLayout(
        kn_parent=kn_parent,
        kn_id=kn_id,
        # v5.10, 2b0d3d3e4fcf ("percpu_ref: reduce memory footprint of
        # percpu_ref in fast path") moved everything but percpu_count_ptr into
        # a separately allocated struct percpu_ref_data.
        percpu_ref_data=has_member(prog, "struct percpu_ref", "data"),
        # cgroup.stat's nr_dying_descendants, v4.14, ec39225cca42 ("cgroup: add
        # cgroup.stat interface with basic hierarchy stats").
        has_nr_dying_descendants=has_member(prog, "struct cgroup", "nr_dying_descendants"),
        # Per-subsystem dying css counts, v6.11, ab0312526867 ("cgroup: Show #
        # of subsystem CSSes in cgroup.stat"). Counts a dying memcg css even
        # when its cgroup is alive (memory disabled in subtree_control).
        has_nr_dying_subsys=has_member(prog, "struct cgroup", "nr_dying_subsys"),
        memory_cgrp_id=constant(prog, "memory_cgrp_id"),
        css_flags=css_flags,
        CSS_ONLINE=css_flags["CSS_ONLINE"],
        CSS_RELEASED=css_flags["CSS_RELEASED"],
        bits_per_long=t.size * 8 if t is not None and t.size is not None else 64,
    )
