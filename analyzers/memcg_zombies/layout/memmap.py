"""Where the memmap (the array of struct page) is and which parts of it exist."""

from dataclasses import dataclass
from typing import Optional

from drgn import Architecture, FaultError, Program, TypeKind

from memcg_zombies.layout.probe import find_type, vmcoreinfo_number


@dataclass(frozen=True)
class MemmapLayout:
    #: sizeof(struct page) (not PAGE_SIZE: see helpers.mm.page_size()).
    page_struct_size: int
    #: SPARSEMEM_VMEMMAP's vmemmap address; None without it.
    vmemmap: Optional[int]
    #: mem_section is a pointer to roots (SPARSEMEM_EXTREME); None: no SPARSEMEM.
    mem_section_extreme: Optional[bool]
    section_has_mem_map: int
    section_size_bits: Optional[int]


def memmap_layout(prog: Program) -> MemmapLayout:
    page_t = find_type(prog, "struct page")
    # Where the memmap is: SPARSEMEM_VMEMMAP's vmemmap (drgn synthesizes
    # the macro's value; vmemmap_base under KASLR on x86_64).
    vmemmap = None
    for name in ("vmemmap", "vmemmap_base"):
        try:
            vmemmap = prog[name].value_()
            break
        except (LookupError, ValueError, FaultError):
            continue

    # Which sparse sections have a memmap (scan.memmap_ranges), so that a
    # hole (the PCI hole of any guest over 3 GiB) is not read and counted
    # as faults: mem_section is a pointer to roots of PAGE_SIZE /
    # sizeof(struct mem_section) sections under SPARSEMEM_EXTREME (v2.6.16,
    # 3e347261a80b "sparsemem extreme implementation"), else an array of
    # one-section roots. SECTION_HAS_MEM_MAP has been bit 1 of
    # section_mem_map since sparsemem began. SECTION_SIZE_BITS is in
    # VMCOREINFO since v5.14 (4f5aecdff25f "crash_core, vmcoreinfo: append
    # 'SECTION_SIZE_BITS' to vmcoreinfo"); before, x86-64's is 27.
    extreme = None
    try:
        extreme = prog["mem_section"].type_.kind == TypeKind.POINTER
    except LookupError:
        pass  # !CONFIG_SPARSEMEM
    bits = vmcoreinfo_number(prog, "SECTION_SIZE_BITS")
    if bits is None and prog.platform is not None and \
            prog.platform.arch == Architecture.X86_64:
        bits = 27
    return MemmapLayout(
        page_struct_size=page_t.size if page_t is not None and page_t.size else 64,
        vmemmap=vmemmap,
        mem_section_extreme=extreme,
        section_has_mem_map=1 << 1,
        section_size_bits=bits,
    )
