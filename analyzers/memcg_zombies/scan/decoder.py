"""
The struct page decoder both engines share: per-kernel constants for parsing the
words of a struct page (offsets, flag bits, encodings), all taken from
:class:`memcg_zombies.layout.Layout`, and the rules that give a page its class and
owner. The C engine (libhelper/python/_scanmodule.c) reads its attributes.
"""

from memcg_zombies.layout import Layout

__all__ = ("Decoder",)

_U64 = (1 << 64) - 1


class Decoder:
    """Per-kernel constants for parsing struct page words, from the Layout."""

    def __init__(self, lay: Layout) -> None:
        if lay.vmemmap is None or lay.page_off.get("memcg") is None:
            raise ValueError("no SPARSEMEM_VMEMMAP memmap or no memcg field in struct page")
        self.psize = lay.page_size
        self.words = lay.page_size // 8
        po = lay.page_off
        for name in ("flags", "mapping", "memcg", "compound", "page_type", "_refcount"):
            if po.get(name) is None:
                raise ValueError(f"struct page has no {name}")
        self.w_flags = po["flags"] // 8
        self.w_mapping = po["mapping"] // 8
        self.w_memcg = po["memcg"] // 8
        self.w_comp = po["compound"] // 8
        # page_type/_mapcount and _refcount share one little-endian word.
        assert po["page_type"] // 8 == po["_refcount"] // 8
        self.w_type = po["page_type"] // 8
        self.type_shift = (po["page_type"] % 8) * 8
        self.ref_shift = (po["_refcount"] % 8) * 8
        pg = lay.PG
        self.PG_lru = 1 << pg["PG_lru"]
        self.PG_head = 1 << pg["PG_head"]
        self.PG_dirty = 1 << pg["PG_dirty"]
        self.PG_writeback = 1 << pg["PG_writeback"]
        self.PG_swapbacked = 1 << pg["PG_swapbacked"]
        self.PG_swapcache = 1 << pg["PG_swapcache"]
        self.PG_slab = 1 << lay.pg_slab if lay.pg_slab is not None else 0
        self.flags_mask = (self.PG_lru | self.PG_head | self.PG_dirty | self.PG_writeback
                           | self.PG_swapbacked | self.PG_swapcache | self.PG_slab)
        self.top_byte = lay.page_type_encoding == "top_byte"
        self.types = lay.page_types
        # Bits of the type/refcount word that decide a class: the type (top
        # byte, or the PAGE_TYPE_BASE nibble and type bits) and the refcount.
        type_bits = 0xff000000 if self.top_byte else 0xf0000000 | sum(self.types.values())
        self.type_word_mask = (type_bits << self.type_shift) | (0xffffffff << self.ref_shift)
        self.vector_bit = lay.memcg_data_vector_bit
        self.kmem_bit = lay.memcg_data_kmem_bit or 0
        self.data_mask = _U64 ^ lay.memcg_data_mask
        self.vec_mask = _U64 ^ lay.obj_exts_mask
        self.info_mask = lay.compound_info_mask
        self.fake_heads = lay.fake_heads_possible
        so = lay.slab_off
        self.w_cache = so["cache"] // 8 if so["cache"] is not None else None
        self.w_vector = so["vector"] // 8 if so["vector"] is not None else None
        self.stride_off = so["stride"]
        self.objects_bits = lay.slab_objects_bits
        self.ext_size = lay.slabobj_ext_size
        self.needs_objcg_bit = lay.slab_needs_objcg_bit
        self.in_object_bit = lay.slab_in_object_bit
        self.cache_size_off = lay.kmem_cache_size_off
        self.codetag = lay.obj_ext_codetag

    def is_type(self, ptype: int, name: str) -> bool:
        value = self.types.get(name)
        if value is None:
            return False
        if self.top_byte:
            return ptype >> 24 == value
        return ptype & (0xf0000000 | value) == 0xf0000000

    def classify(self, flags: int, tword: int, mapping: int, memcg: int) -> str:
        """Class of a head (or order-0) page."""
        ptype = (tword >> self.type_shift) & 0xffffffff
        if flags & self.PG_slab or self.is_type(ptype, "slab"):
            return "slab"
        if self.is_type(ptype, "buddy"):
            return "free"
        if (memcg & self.kmem_bit and not memcg & self.vector_bit) or self.is_type(ptype, "kmemcg"):
            return "kmem"
        low = mapping & 3
        if low & 1:
            return "anon"  # PAGE_MAPPING_ANON, KSM included
        if flags & self.PG_swapbacked and flags & self.PG_swapcache:
            return "swapcache"
        if mapping and not low:
            return "shmem" if flags & self.PG_swapbacked else "file"
        if (tword >> self.ref_shift) & 0xffffffff == 0:
            return "free"  # refcount 0: free pages not on a buddy list head (pcp, order>0 rest)
        return "other"

    def owner(self, cls: str, memcg: int) -> int:
        if not memcg:
            return 0
        if cls == "slab":
            # An object vector (v5.9+) is no owner; before, slab pages named a memcg.
            return 0 if memcg & self.vector_bit else memcg
        return memcg & self.data_mask

    def tail_head(self, addr: int, info: int) -> int:
        """Head address of a tail page whose compound word is ``info``."""
        if self.info_mask:
            mask = info & ~1
            if ((mask ^ _U64) + 1) & (mask ^ _U64) == 0:  # GENMASK(63, n): a mask
                return addr & mask
        return info - 1
