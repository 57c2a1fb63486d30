/* Slab object vectors: one objcg pointer per object, 'stride' bytes apart
 * (8 for obj_cgroup **, sizeof(struct slabobj_ext), or s->size when v7.0
 * embeds the extension in each object; v7.3 says so with slab bits, see
 * layout.h).  One read per slab. */
#include "scan.h"

uint64_t mz_slab_nobj(const struct mz_layout *l, const unsigned char *page)
{
	uint64_t w;

	if (l->objects_bit == MZ_NONE)
		return 0;
	w = mz_u64(page, (l->objects_bit / 64) * 8);
	return (w >> (l->objects_bit % 64)) &
	       (((uint64_t)1 << l->objects_width) - 1);
}

int mz_slab_bit(const unsigned char *page, uint32_t bit)
{
	if (bit == MZ_NONE)
		return 0;
	return (mz_u64(page, (bit / 64) * 8) >> (bit % 64)) & 1;
}

uint64_t mz_slab_stride(const struct mz_layout *l, const unsigned char *page)
{
	uint64_t s;

	if (l->stride_off == MZ_NONE)
		return l->ext_size;
	/* v7.0+: slab->stride is 32 bits inside a 64-bit word. */
	s = (mz_u64(page, (l->stride_off / 8) * 8) >> ((l->stride_off % 8) * 8)) &
	    0xffffffffu;
	return s ? s : l->ext_size;
}

int mz_slab_vector_count(const unsigned char *vec, size_t len, uint64_t n,
			 uint64_t stride, uint64_t cache, struct mz_tab *slab)
{
	uint64_t i, run = 0, prev = 0;

	/* scan/python_engine.py ignores vectors whose stride is not in whole words. */
	if (!stride || stride % 8)
		return 0;
	/* Neighbouring objects were mostly allocated by the same cgroup: count
	 * runs, one table update per run rather than per object. */
	for (i = 0; i < n; i++) {
		uint64_t objcg;

		if (i * stride + 8 > len)
			break;
		objcg = mz_u64(vec, (uint32_t)(i * stride));
		if (objcg == prev) {
			run++;
			continue;
		}
		if (prev && mz_tab_add(slab, prev, cache, 0, run))
			return -1;
		prev = objcg;
		run = 1;
	}
	if (prev && mz_tab_add(slab, prev, cache, 0, run))
		return -1;
	return 0;
}
