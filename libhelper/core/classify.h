/* Classifying one struct page from its raw fields (the twin of scan/decoder.py's Decoder). */
#ifndef MZ_CLASSIFY_H
#define MZ_CLASSIFY_H

#include <stdint.h>
#include <string.h>
#include "layout.h"

/* Page classes, in the order of scan/model.py's CLASSES (the bindings' ABI). */
enum mz_class {
	MZ_FREE = 0, MZ_SLAB, MZ_FILE, MZ_SHMEM, MZ_ANON, MZ_SWAPCACHE,
	MZ_KMEM, MZ_OTHER, MZ_NCLASS
};

/* Classes also counted per page->mapping (scan/model.py BY_MAPPING): a file's
 * address_space names the pin, an anon_vma the processes that map the pages. */
#define MZ_BY_MAPPING(cls) ((cls) == MZ_FILE || (cls) == MZ_SHMEM || (cls) == MZ_ANON)

const char *mz_class_name(unsigned cls);

/* The four words of a page that decide its class. */
struct mz_fields {
	uint64_t flags, tword, mapping, memcg;
};

static inline uint64_t mz_u64(const unsigned char *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline void mz_fields_of(const struct mz_layout *l,
				const unsigned char *page, struct mz_fields *f)
{
	f->flags = mz_u64(page, l->off_flags);
	f->tword = mz_u64(page, l->off_type);
	f->mapping = mz_u64(page, l->off_mapping);
	f->memcg = mz_u64(page, l->off_memcg);
}

/* Class of a head (or order-0) page: the C twin of analyzers/memcg_zombies/scan/decoder.py's
 * Decoder.classify.  The order of the tests is the Python one and must stay
 * so: slab first (a slab's memcg word is a vector), then buddy, kmem, the
 * mapping bits, swap cache, file/shmem, and a zero refcount (free pages that
 * are not the head of a buddy block: per-CPU lists, the rest of a high-order
 * block). */
static inline int mz_is_type(const struct mz_layout *l, uint32_t ptype, uint32_t value)
{
	if (value == MZ_NONE)
		return 0;
	if (l->top_byte)
		return (ptype >> 24) == value;
	/* Before v6.12 a type is a cleared bit under PAGE_TYPE_BASE. */
	return (ptype & (0xf0000000u | value)) == 0xf0000000u;
}

static inline unsigned mz_classify(const struct mz_layout *l, const struct mz_fields *f)
{
	uint32_t ptype = (uint32_t)(f->tword >> l->type_shift);
	uint64_t low = f->mapping & 3;

	if ((f->flags & l->PG_slab) || mz_is_type(l, ptype, l->type_slab))
		return MZ_SLAB;
	if (mz_is_type(l, ptype, l->type_buddy))
		return MZ_FREE;
	if (((f->memcg & l->kmem_bit) && !(f->memcg & l->vector_bit)) ||
	    mz_is_type(l, ptype, l->type_kmemcg))
		return MZ_KMEM;
	if (low & 1)
		return MZ_ANON;	/* PAGE_MAPPING_ANON, KSM included */
	if ((f->flags & l->PG_swapbacked) && (f->flags & l->PG_swapcache))
		return MZ_SWAPCACHE;
	if (f->mapping && !low)
		return (f->flags & l->PG_swapbacked) ? MZ_SHMEM : MZ_FILE;
	if ((uint32_t)(f->tword >> l->ref_shift) == 0)
		return MZ_FREE;
	return MZ_OTHER;
}

/* The owner counted for a page of class cls: memcg/objcg address or 0. */
uint64_t mz_owner(const struct mz_layout *l, unsigned cls, uint64_t memcg);
/* Head address of a tail page at addr whose compound word is info. */
uint64_t mz_tail_head(const struct mz_layout *l, uint64_t addr, uint64_t info);

#endif /* MZ_CLASSIFY_H */
