"""Reverse mapping: from an anonymous page to the processes that map it."""

from dataclasses import dataclass
from typing import Literal, Optional

from drgn import Program

from memcg_zombies.layout.probe import find_type, has_member, member_type


@dataclass(frozen=True)
class RmapLayout:
    #: What anon_vma->rb_root is: the interval tree of its anon_vma_chains.
    anon_vma_tree: Optional[Literal["rb_root_cached", "rb_root"]]
    #: mm_struct->owner, the task a memcg charges the mm to (CONFIG_MEMCG).
    mm_owner: bool


def rmap_layout(prog: Program) -> RmapLayout:
    # anon_vma->rb_root became a struct rb_root_cached in v4.13, f808c13fd373
    # ("lib/interval_tree: fast overlap detection"); a plain rb_root since v3.7,
    # bf181b9f9d8d ("mm anon rmap: replace same_anon_vma linked list with an
    # interval tree"). The chains' vma->vm_mm->owner names a task: mm->owner
    # exists with CONFIG_MEMCG, v2.6.25 cf475ad28ac3 ("cgroups: add an owner to
    # the mm_struct").
    tree = member_type(find_type(prog, "struct anon_vma"), "rb_root")
    name = tree.type_name() if tree is not None else None
    kind: Optional[Literal["rb_root_cached", "rb_root"]] = (
        "rb_root_cached" if name == "struct rb_root_cached"
        else "rb_root" if name == "struct rb_root" else None)
    return RmapLayout(anon_vma_tree=kind, mm_owner=has_member(prog, "struct mm_struct", "owner"))
