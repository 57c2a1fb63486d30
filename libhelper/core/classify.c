/* Page classification: the C twin of analyzers/scan.py's _Decoder.classify.
 *
 * The order of the tests is the Python one and must stay so: slab first
 * (a slab's memcg word is a vector), then buddy, kmem, the mapping bits,
 * swap cache, file/shmem, and a zero refcount (free pages that are not the
 * head of a buddy block: per-CPU lists, the rest of a high-order block).
 */
#include "classify.h"

static const char *const class_names[MZ_NCLASS] = {
	"free", "slab", "file", "shmem", "anon", "swapcache", "kmem", "other",
};

const char *mz_class_name(unsigned cls)
{
	return cls < MZ_NCLASS ? class_names[cls] : "?";
}

void mz_layout_init(struct mz_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->psize = 64;
	l->type_buddy = l->type_slab = l->type_kmemcg = MZ_NONE;
	l->off_cache = l->stride_off = MZ_NONE;
	l->objects_bit = l->objects_width = MZ_NONE;
	l->needs_objcg_bit = l->in_object_bit = l->off_cache_size = MZ_NONE;
	l->ext_size = 8;
	l->vector_bit = 1;
	l->data_mask = ~(uint64_t)3;
	l->vec_mask = ~(uint64_t)7;
}

int mz_layout_check(const struct mz_layout *l)
{
	uint32_t ps = l->psize;

	if (ps < 8 || ps > 4096 || ps % 8)
		return -1;
	if (l->off_flags + 8 > ps || l->off_mapping + 8 > ps ||
	    l->off_memcg + 8 > ps || l->off_comp + 8 > ps || l->off_type + 8 > ps)
		return -1;
	if (l->type_shift > 32 || l->ref_shift > 32)
		return -1;
	if (l->off_cache != MZ_NONE && l->off_cache + 8 > ps)
		return -1;
	if (l->stride_off != MZ_NONE && (l->stride_off / 8) * 8 + 8 > ps)
		return -1;
	if (l->objects_bit != MZ_NONE &&
	    ((l->objects_bit / 64) * 8 + 8 > ps || l->objects_width == 0 ||
	     l->objects_width > 32))
		return -1;
	if ((l->needs_objcg_bit != MZ_NONE && (l->needs_objcg_bit / 64) * 8 + 8 > ps) ||
	    (l->in_object_bit != MZ_NONE && (l->in_object_bit / 64) * 8 + 8 > ps))
		return -1;
	if (l->needs_objcg_bit != MZ_NONE && l->in_object_bit != MZ_NONE &&
	    l->off_cache_size == MZ_NONE)
		return -1;
	return 0;
}

int mz_is_type(const struct mz_layout *l, uint32_t ptype, uint32_t value)
{
	if (value == MZ_NONE)
		return 0;
	if (l->top_byte)
		return (ptype >> 24) == value;
	/* Before v6.12 a type is a cleared bit under PAGE_TYPE_BASE. */
	return (ptype & (0xf0000000u | value)) == 0xf0000000u;
}

unsigned mz_classify(const struct mz_layout *l, const struct mz_fields *f)
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

uint64_t mz_owner(const struct mz_layout *l, unsigned cls, uint64_t memcg)
{
	if (!memcg)
		return 0;
	if (cls == MZ_SLAB)
		/* An object vector (v5.9+) is no owner; before, a memcg. */
		return (memcg & l->vector_bit) ? 0 : memcg;
	return memcg & l->data_mask;
}

uint64_t mz_tail_head(const struct mz_layout *l, uint64_t addr, uint64_t info)
{
	if (l->info_mask) {
		uint64_t mask = info & ~(uint64_t)1, inv = ~mask;

		if (((inv + 1) & inv) == 0)	/* GENMASK(63, n): a mask */
			return addr & mask;
	}
	return info - 1;
}
