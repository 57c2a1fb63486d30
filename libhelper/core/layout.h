/* Layout descriptor: everything the scanner needs to know about one kernel.
 *
 * It mirrors analyzers/memcg_zombies/layout/pages.py's PageLayout field for field (the
 * CPython binding fills it by field name from that dataclass, and
 * tests/test_layout_pages.py checks every field), so that both engines decide
 * from the same facts.  The
 * core never guesses a version.  Offsets are byte offsets in struct page
 * (struct slab overlays it); NONE marks a member this kernel lacks.
 */
#ifndef MZ_LAYOUT_H
#define MZ_LAYOUT_H

#include <stdint.h>

#define MZ_NONE UINT32_MAX

struct mz_layout {
	uint32_t psize;			/* sizeof(struct page), a multiple of 8 */
	uint32_t off_flags, off_mapping, off_memcg, off_comp;
	uint32_t off_type;		/* 64-bit word with page_type and _refcount */
	uint32_t type_shift, ref_shift;	/* their bit positions in that word */

	uint64_t PG_head, PG_dirty, PG_writeback, PG_swapbacked, PG_swapcache;
	uint64_t PG_slab;		/* 0 once slab is a page type (v6.10) */

	int top_byte;			/* v6.12+ page-type encoding */
	/* page-type values as layout.charge.page_types has them (the PGTY_
	 * value when top_byte, else the cleared PG_* bit); MZ_NONE = absent */
	uint32_t type_buddy, type_slab, type_kmemcg;

	uint64_t vector_bit, kmem_bit;	/* memcg_data tag bits */
	uint64_t data_mask;		/* ~flag bits of a folio's memcg_data */
	uint64_t vec_mask;		/* ~flag bits of an object vector word */
	int info_mask;			/* v7.1: a tail may encode its head as a mask */
	int fake_heads;			/* v5.18-v7.0 HVO fake heads possible */

	uint32_t off_cache;		/* slab->slab_cache, MZ_NONE if absent */
	uint32_t stride_off;		/* slab->stride (v7.0), MZ_NONE if absent */
	uint32_t objects_bit, objects_width;	/* slab->objects bitfield, MZ_NONE */
	uint32_t ext_size;		/* vector element without a stride */
	/* v7.3: per-slab bits instead of a stride (MZ_NONE before): no objcg
	 * element unless needs_objcg; inside the objects, s->size apart, when
	 * in_object; else (1 + codetag) elements per object. */
	uint32_t needs_objcg_bit, in_object_bit;
	uint32_t off_cache_size;	/* kmem_cache.size */
	uint32_t codetag;		/* slab_obj_ext_has_codetag_key on: 1 */
};

/* A layout with every optional member absent and 64-byte pages. */
void mz_layout_init(struct mz_layout *l);
/* 0 when the offsets fit in a struct page of psize bytes. */
int mz_layout_check(const struct mz_layout *l);

#endif /* MZ_LAYOUT_H */
