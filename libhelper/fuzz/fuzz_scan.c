/* libFuzzer target: the page classifier and the slab vector walker.
 *
 * Input: a layout-shaped header (which era facts are on), then bytes used
 * as the memmap of a few pages and as the memory any vector points into.
 * Every read is served from the input, so classification, tail/head
 * resolution and vector walks see arbitrary struct pages.
 */
#include <stdlib.h>
#include <string.h>
#include "../core/scan.h"

struct mem {
	const uint8_t *d;
	size_t n;
};

#define BASE 0xffffea0000000000ull

static int rd(void *arg, uint64_t a, void *buf, size_t len)
{
	struct mem *m = arg;
	uint64_t off = a - BASE;

	/* vectors and heads anywhere: fold the address into the input */
	if (a < BASE)
		off = a % (m->n ? m->n : 1);
	if (!m->n || off > m->n || len > m->n - off)
		return -1;
	memcpy(buf, m->d + off, len);
	return 0;
}

/* The same bytes in place, as an ELF vmcore's mapping gives them. */
static const void *view(void *arg, uint64_t a, size_t len)
{
	struct mem *m = arg;
	uint64_t off = a - BASE;

	if (a < BASE)
		off = a % (m->n ? m->n : 1);
	if (!m->n || off > m->n || len > m->n - off)
		return NULL;
	return m->d + off;
}

static const char *err(void *arg)
{
	(void)arg;
	return "fuzz: out of input";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mz_layout l;
	struct mz_result r;
	struct mem m;
	struct mz_reader reader = { rd, err, &m, NULL };
	struct mz_range range;
	struct mz_scan_opts o = { NULL, 0, 1, 1 };
	uint8_t h;

	if (size < 2)
		return 0;
	h = data[0];
	mz_layout_init(&l);
	l.off_flags = 0;
	l.off_comp = 8;
	l.off_mapping = 24;
	l.off_type = 48;
	l.ref_shift = 32;
	l.off_memcg = 56;
	l.PG_head = 1 << 16;
	l.PG_swapbacked = 1 << 19;
	l.PG_swapcache = 1 << 8;
	l.PG_slab = (h & 1) ? 1 << 9 : 0;
	l.top_byte = (h >> 1) & 1;
	l.type_buddy = l.top_byte ? 0xf0 : 0x80;
	l.type_slab = l.PG_slab ? MZ_NONE : (l.top_byte ? 0xf5 : 0x1000);
	l.kmem_bit = (h & 4) ? 2 : 0;
	l.info_mask = (h >> 3) & 1;
	l.fake_heads = (h >> 4) & 1;
	l.off_cache = 8;
	l.objects_bit = 32 * 8 + 16;
	l.objects_width = 15;
	if (h & 0x20)
		l.stride_off = 44;
	l.ext_size = (h & 0x40) ? 16 : 8;
	if (h & 0x80) {
		/* v7.3: per-slab bits, s->size read from the cache */
		l.in_object_bit = 32 * 8 + 32;
		l.needs_objcg_bit = 32 * 8 + 33;
		l.off_cache_size = 24;
		l.codetag = (h >> 5) & 1;
	}
	data++;
	size--;
	m.d = data;
	m.n = size;
	range.lo = 0;
	range.hi = size / 64 + 1;	/* last page is partly missing: a fault */
	if (mz_result_init(&r))
		return 0;
	if (mz_scan(&l, BASE, &reader, &range, 1, &o, &r) == 0) {
		/* Differential: scanning in place counts what reading does. */
		struct mz_result v;

		reader.view = view;
		if (mz_result_init(&v) == 0) {
			if (mz_scan(&l, BASE, &reader, &range, 1, &o, &v) == 0 &&
			    (v.pages_scanned != r.pages_scanned ||
			     v.slabs_with_vector != r.slabs_with_vector ||
			     v.by_owner.len != r.by_owner.len ||
			     v.slab_objects.len != r.slab_objects.len || v.nfaults != r.nfaults))
				abort();
			mz_result_free(&v);
		}
	}
	mz_result_free(&r);
	/* the walker alone, on the raw input */
	if (mz_tab_init(&r.slab_objects, 16) == 0) {
		mz_slab_vector_count(data, size, size / 8 + 3, (h & 0x80) ? 16 : 8, 1,
				     &r.slab_objects);
		mz_tab_free(&r.slab_objects);
	}
	return 0;
}
