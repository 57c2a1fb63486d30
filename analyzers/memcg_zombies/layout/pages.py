"""
The page scan's descriptor: what it takes to parse raw struct page (and
struct slab) bytes, field for field the C core's ``struct mz_layout``
(libhelper/core/layout.h). Offsets are in bytes; None (or MZ_NONE in a
member the scan cannot do without) is the C side's MZ_NONE, a member this
kernel lacks. :func:`c_descriptor` is the one
conversion to what the C extension reads; tests/test_layout_pages.py holds
the two languages together.
"""

from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

from drgn import FaultError, Program

from memcg_zombies.layout.charge import ChargeLayout
from memcg_zombies.layout.probe import (bit_offset, byte_offset, constant, find_type,
                                        has_member)

_U64 = (1 << 64) - 1
_FLAGS = ("PG_head", "PG_dirty", "PG_writeback", "PG_swapbacked", "PG_swapcache")
#: libhelper/core/layout.h's MZ_NONE.
MZ_NONE = 0xFFFFFFFF


@dataclass(frozen=True)
class PageLayout:
    psize: int  #: sizeof(struct page), a multiple of 8
    off_flags: int
    off_mapping: int
    off_memcg: int  #: memcg_data / mem_cgroup (struct slab's vector overlays it)
    off_comp: int  #: compound_head / compound_info
    off_type: int  #: the 64-bit word holding page_type (or _mapcount) and _refcount
    type_shift: int  #: their bit positions in that word
    ref_shift: int
    # enum pageflags as masks; PG_slab 0 once slab is a page type (v6.10).
    PG_head: int
    PG_dirty: int
    PG_writeback: int
    PG_swapbacked: int
    PG_swapcache: int
    PG_slab: int
    top_byte: bool  #: v6.12+ page-type encoding
    #: page-type values (the PGTY_ value when top_byte, else the cleared bit)
    type_buddy: Optional[int]
    type_slab: Optional[int]
    type_kmemcg: Optional[int]
    vector_bit: int  #: memcg_data tag of an object vector
    kmem_bit: int  #: memcg_data tag of a kmem page (0: none)
    data_mask: int  #: ~flag bits of a folio's memcg_data
    vec_mask: int  #: ~flag bits of an object vector word
    info_mask: bool  #: v7.1: a tail may encode its head as a mask
    fake_heads: bool  #: v5.18-v7.0 HVO fake heads possible
    off_cache: Optional[int]  #: slab->slab_cache
    stride_off: Optional[int]  #: slab->stride (v7.0)
    objects_bit: Optional[int]  #: slab->objects bit field
    objects_width: Optional[int]
    ext_size: int  #: object-vector element without a stride
    needs_objcg_bit: Optional[int]  #: v7.3 per-slab bits (see below)
    in_object_bit: Optional[int]
    off_cache_size: Optional[int]  #: offsetof(struct kmem_cache, size)
    codetag: int  #: slab_obj_ext_has_codetag_key on: 1

    def type_value(self, name: str) -> Optional[int]:
        """The page-type value of "buddy", "slab" or "kmemcg"."""
        return {"buddy": self.type_buddy, "slab": self.type_slab,
                "kmemcg": self.type_kmemcg}[name]


def c_descriptor(p: PageLayout) -> Dict[str, int]:
    """``struct mz_layout`` as the C extension takes it: every field by its
    name, None as MZ_NONE, flags as 0/1."""
    return {k: MZ_NONE if v is None else int(v) for k, v in asdict(p).items()}


def page_layout(prog: Program, charge: ChargeLayout,
                psize: int) -> Tuple[PageLayout, Optional[str]]:
    """The descriptor, and why this kernel's memmap cannot be scanned (None: it
    can). A member the scan needs but this kernel lacks is MZ_NONE, which the
    C core's mz_layout_check() refuses too."""
    page_t = find_type(prog, "struct page")
    off = {m: byte_offset(page_t, m)
           for m in ("flags", "mapping", "page_type", "_mapcount", "_refcount")}
    off["memcg"] = byte_offset(page_t, charge.page_memcg) if charge.page_memcg else None
    off["compound"] = (byte_offset(page_t, charge.compound_member)
                       if charge.compound_member else None)
    if charge.page_type_encoding == "mapcount":
        off["page_type"] = off["_mapcount"]
    why: Optional[str] = None
    if off["memcg"] is None:
        why = "no SPARSEMEM_VMEMMAP memmap or no memcg field in struct page"
    else:
        why = next((f"struct page has no {name}"
                    for name in ("flags", "mapping", "memcg", "compound", "page_type",
                                 "_refcount") if off[name] is None), None)
    pg = charge.PG
    if why is None:
        why = next((f"enum pageflags has no {f}" for f in _FLAGS if f not in pg), None)
    if why is None and off["page_type"] // 8 != off["_refcount"] // 8:  # type: ignore[operator]
        why = "page_type and _refcount are not in one word"

    def word(name: str) -> int:  # the 8-byte word a member is in
        v = off[name]
        return MZ_NONE if v is None else v // 8 * 8

    def shift(name: str) -> int:  # its bit position in that word
        v = off[name]
        return 0 if v is None else (v % 8) * 8

    def flag(name: str) -> int:
        return 1 << pg[name] if name in pg else 0

    types = charge.page_types

    # memcg_data low bits, enum page_memcg_data_flags (v5.11, bcfe06bf2622):
    # bit 0 MEMCG_DATA_OBJCGS (renamed MEMCG_DATA_OBJEXTS in v6.10,
    # 21c690a349ba "mm: introduce slabobj_ext to support slab object
    # extensions"), bit 1 MEMCG_DATA_KMEM. v5.9-v5.10 tag only the objcg
    # vector (bit 0).
    vector_bit = (constant(prog, "MEMCG_DATA_OBJEXTS")
                  or constant(prog, "MEMCG_DATA_OBJCGS") or 1)
    nr_flags = constant(prog, "__NR_MEMCG_DATA_FLAGS")
    memcg_data_mask = (nr_flags - 1) if nr_flags else 3
    # slab->obj_exts also carries enum objext_flags (v6.10), low 3 bits.
    nr_objext = constant(prog, "__NR_OBJEXTS_FLAGS")
    obj_exts_mask = max(memcg_data_mask, (nr_objext - 1) if nr_objext else 0)

    # 8c846c879e22 (v7.1) lets a tail's compound_info encode a mask of its
    # head's address (HVO with a power-of-2 struct page; struct
    # zone::vmemmap_tails appeared with it). Before, 5.18's e7d324850bfc
    # ("mm: hugetlb: free the 2nd vmemmap page associated with each
    # HugeTLB page") can make "fake heads": PG_head on a tail.
    info_mask = (charge.compound_member == "compound_info" and psize & (psize - 1) == 0
                 and has_member(prog, "struct zone", "vmemmap_tails"))

    # Slab fields (struct slab overlays struct page, v5.17; see charge.py).
    # v7.0 adds slab->stride (vector elements may live inside the objects).
    slab_t = find_type(prog, "struct slab")
    st = slab_t if slab_t is not None else page_t
    try:
        objects = st.member("objects")  # type: ignore[union-attr]
        objects_bits: Optional[Tuple[int, int]] = (
            objects.bit_offset, objects.bit_field_size or 32)
    except (LookupError, AttributeError):
        objects_bits = None
    cache = byte_offset(st, "slab_cache")
    # Vector element: struct slabobj_ext (v6.10; 8 or 16 bytes with
    # CONFIG_MEM_ALLOC_PROFILING), else a bare struct obj_cgroup *.
    ext_t = find_type(prog, "struct slabobj_ext")
    # v7.3 (slab/for-7.3/objext_split: "mm/slab: replace slab.stride with
    # obj_exts_in_object", "mm/slab: stop allocating objcg pointers when
    # unnecessary"): slabobj_ext is a union of the objcg and the codetag
    # ref, an object's extension is one objcg element if the slab's
    # obj_exts_needs_objcg bit says so (none otherwise), then one codetag
    # element if slab_obj_ext_has_codetag_key is on; they sit s->size
    # apart inside the objects when obj_exts_in_object is set.
    needs_objcg_bit = bit_offset(st, "obj_exts_needs_objcg")
    codetag = 0
    if needs_objcg_bit is not None:
        try:
            key = prog["slab_obj_ext_has_codetag_key"]  # CONFIG_MEM_ALLOC_PROFILING
            codetag = int(key.key.enabled.counter.value_() > 0)
        except (LookupError, FaultError, AttributeError):
            pass

    in_object_bit = bit_offset(st, "obj_exts_in_object")
    cache_size = byte_offset(find_type(prog, "struct kmem_cache"), "size")
    if why is None and in_object_bit is not None and cache_size is None:
        why = "struct kmem_cache has no size"

    return PageLayout(
        psize=psize,
        off_flags=word("flags"),
        off_mapping=word("mapping"),
        off_memcg=word("memcg"),
        off_comp=word("compound"),
        off_type=word("page_type"),
        type_shift=shift("page_type"),
        ref_shift=shift("_refcount"),
        PG_head=flag("PG_head"),
        PG_dirty=flag("PG_dirty"),
        PG_writeback=flag("PG_writeback"),
        PG_swapbacked=flag("PG_swapbacked"),
        PG_swapcache=flag("PG_swapcache"),
        # PageSlab is a page flag up to v6.9 and a page type since v6.10,
        # 46df8e73a4a3 ("mm: free up PG_slab").
        PG_slab=flag("PG_slab"),
        top_byte=charge.page_type_encoding == "top_byte",
        type_buddy=types.get("buddy"),
        type_slab=types.get("slab"),
        type_kmemcg=types.get("kmemcg"),
        vector_bit=vector_bit,
        kmem_bit=constant(prog, "MEMCG_DATA_KMEM") or 0,
        data_mask=_U64 ^ memcg_data_mask,
        vec_mask=_U64 ^ obj_exts_mask,
        info_mask=info_mask,
        fake_heads=charge.compound_member == "compound_head",
        off_cache=cache // 8 * 8 if cache is not None else None,
        stride_off=byte_offset(st, "stride"),
        objects_bit=objects_bits[0] if objects_bits else None,
        objects_width=objects_bits[1] if objects_bits else None,
        ext_size=ext_t.size if ext_t is not None and ext_t.size is not None else 8,
        needs_objcg_bit=needs_objcg_bit,
        in_object_bit=in_object_bit,
        off_cache_size=cache_size,
        codetag=codetag,
    ), why
