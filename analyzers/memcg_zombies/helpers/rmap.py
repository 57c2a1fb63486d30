"""
Who maps an anonymous page
--------------------------

An anonymous folio's ``mapping`` is its anon_vma with the low bit set
(PAGE_MAPPING_ANON; KSM pages set the next bit too and point elsewhere). The
anon_vma's interval tree holds one ``anon_vma_chain`` per VMA that may map its
pages (``rmap_walk_anon()`` walks the same tree); each VMA's ``vm_mm->owner`` is
the task the memory controller charges that mm to. The walk is bounded: a
damaged tree yields what was read before the damage.
"""

from typing import List, Optional, Set, Tuple

from drgn import FaultError, Object, Program, container_of

from memcg_zombies.layout import layout

__all__ = ("PAGE_MAPPING_ANON", "PAGE_MAPPING_FLAGS", "anon_vma_owners")

#: Low bits of page->mapping (include/linux/page-flags.h, unchanged since v2.6.x:
#: PAGE_MAPPING_ANON, PAGE_MAPPING_MOVABLE; KSM is both).
PAGE_MAPPING_ANON = 0x1
PAGE_MAPPING_FLAGS = 0x3
#: Bound on the chains of one anon_vma (a fork bomb's tree is large, not endless).
MAX_CHAINS = 4096


def _tree_root(prog: Program, anon_vma: Object) -> Optional[Object]:
    kind = layout(prog).rmap.anon_vma_tree
    if kind == "rb_root_cached":
        return anon_vma.rb_root.rb_root.rb_node.read_()
    if kind == "rb_root":
        return anon_vma.rb_root.rb_node.read_()
    return None


def anon_vma_owners(prog: Program, mapping: int) -> List[Tuple[int, str]]:
    """(pid, comm) of the tasks owning the mms that map pages of this anon mapping
    (``page->mapping`` as the scan saw it), sorted by pid; [] for KSM pages, a kernel
    without mm->owner, or what cannot be read."""
    if mapping & PAGE_MAPPING_FLAGS != PAGE_MAPPING_ANON or not layout(prog).rmap.mm_owner:
        return []
    found: Set[Tuple[int, str]] = set()
    seen_mm: Set[int] = set()
    try:
        anon_vma = Object(prog, "struct anon_vma *", mapping & ~PAGE_MAPPING_FLAGS)
        top = _tree_root(prog, anon_vma)
    except FaultError:
        return []
    stack = [top] if top is not None and top.value_() else []
    steps = 0
    while stack and steps < MAX_CHAINS:
        node = stack.pop()
        steps += 1
        try:
            avc = container_of(node, "struct anon_vma_chain", "rb")
            mm = avc.vma.vm_mm.read_()
            for child in (node.rb_left.read_(), node.rb_right.read_()):
                if child.value_():
                    stack.append(child)
            if not mm.value_() or mm.value_() in seen_mm:
                continue
            seen_mm.add(mm.value_())
            owner = mm.owner.read_()
            if owner.value_():
                found.add((owner.pid.value_(), owner.comm.string_().decode(errors="replace")))
        except FaultError:
            continue
    return sorted(found)
