/* Page classification helpers; mz_classify itself is inline in classify.h
 * (it runs for every struct page). */
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
