/* Unit tests of the core (Check): classification per era, tails and heads,
 * slab vectors with stride, read failures, threads, owners of interest. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "../core/pcache.h"
#include "../core/scan.h"

#define NPAGES 4096
#define BASE 0xffffea0000000000ull
#define VEC 0xffff888000100000ull

/* A fake kernel: a memmap of NPAGES 64-byte pages, one vector, one hole. */
static unsigned char memmap[NPAGES * 64];
static unsigned char vecmem[4096];
static uint64_t hole_lo = NPAGES, hole_hi = NPAGES;

static int fake_read(void *arg, uint64_t a, void *buf, size_t len)
{
	(void)arg;
	if (a >= BASE && a + len <= BASE + sizeof(memmap)) {
		uint64_t p0 = (a - BASE) / 64, p1 = (a + len - BASE + 63) / 64;

		if (p0 < hole_hi && p1 > hole_lo)
			return -1;
		memcpy(buf, memmap + (a - BASE), len);
		return 0;
	}
	if (a >= VEC && a + len <= VEC + sizeof(vecmem)) {
		memcpy(buf, vecmem + (a - VEC), len);
		return 0;
	}
	return -1;
}

/* The same memory in place (an ELF mapping's view); fake_views counts calls. */
static int fake_views;

static const void *fake_view(void *arg, uint64_t a, size_t len)
{
	(void)arg;
	fake_views++;
	if (a >= BASE && a + len <= BASE + sizeof(memmap)) {
		uint64_t p0 = (a - BASE) / 64, p1 = (a + len - BASE + 63) / 64;

		return p0 < hole_hi && p1 > hole_lo ? NULL : memmap + (a - BASE);
	}
	if (a >= VEC && a + len <= VEC + sizeof(vecmem))
		return vecmem + (a - VEC);
	return NULL;
}

static const char *fake_err(void *arg)
{
	(void)arg;
	return "could not read memory: fake";
}

/* 6.1-like layout: flags 0, compound 8, mapping 24, type/refcount word 48
 * (_mapcount at 48, _refcount at 52), memcg_data 56. */
static void layout61(struct mz_layout *l)
{
	mz_layout_init(l);
	l->off_flags = 0;
	l->off_comp = 8;
	l->off_mapping = 24;
	l->off_type = 48;
	l->type_shift = 0;
	l->ref_shift = 32;
	l->off_memcg = 56;
	l->PG_head = 1 << 16;
	l->PG_dirty = 1 << 4;
	l->PG_writeback = 1 << 13;
	l->PG_swapbacked = 1 << 19;
	l->PG_swapcache = 1 << 8;
	l->PG_slab = 1 << 9;
	l->type_buddy = 0x80;
	l->kmem_bit = 2;
	l->off_cache = 8;
	l->objects_bit = 32 * 8 + 16;	/* counters at 32: inuse:16 objects:15 */
	l->objects_width = 15;
}

static unsigned char *pg(uint64_t i) { return memmap + i * 64; }
static void put(unsigned char *p, uint32_t off, uint64_t v) { memcpy(p + off, &v, 8); }

static void fill(void)
{
	uint64_t i;

	memset(memmap, 0, sizeof(memmap));
	memset(vecmem, 0, sizeof(vecmem));
	for (i = 0; i < NPAGES; i++)
		put(pg(i), 48, (uint64_t)1 << 32 | 0xffffffffu);	/* ref 1, no type */
	/* 0: buddy head */
	put(pg(0), 48, 0xffffff7fu);
	/* 1: charged file page, dirty */
	put(pg(1), 0, 1 << 4);
	put(pg(1), 24, 0xffff888000200000ull);
	put(pg(1), 56, 0xffff888000300000ull);
	/* 2..5: an order-2 anon folio of memcg M */
	put(pg(2), 0, 1 << 16);
	put(pg(2), 24, 0xffff888000400001ull);
	put(pg(2), 56, 0xffff888000300000ull);
	for (i = 3; i < 6; i++)
		put(pg(i), 8, BASE + 2 * 64 + 1);
	/* 6: kmem page of objcg O */
	put(pg(6), 56, 0xffff888000500000ull | 2);
	/* 7: slab with 3 objects, vector at VEC: objcg O twice, one empty */
	put(pg(7), 0, 1 << 9);
	put(pg(7), 8, 0xffff888000600000ull);
	put(pg(7), 32, (uint64_t)3 << 16);
	put(pg(7), 56, VEC | 1);
	put(vecmem, 0, 0xffff888000500000ull);
	put(vecmem, 16, 0xffff888000500000ull);
	/* 8: shmem page in swap cache */
	put(pg(8), 0, (1 << 19) | (1 << 8));
	put(pg(8), 56, 0xffff888000300000ull);
	/* 9: free, refcount 0 */
	put(pg(9), 48, 0xffffffffu);
}

static uint64_t owner_pages(struct mz_result *r, uint64_t o, unsigned cls)
{
	const struct mz_ent *e = mz_tab_find(&r->by_owner, o, cls, 0);

	return e ? e->n[0] : 0;
}

static void run(struct mz_result *r, int threads, const uint64_t *owners, size_t n)
{
	struct mz_layout l;
	struct mz_reader rd[4];
	struct mz_range range = { 0, NPAGES };
	struct mz_scan_opts o = { owners, n, owners == NULL, threads };
	int i;

	layout61(&l);
	for (i = 0; i < 4; i++) {
		rd[i].read = fake_read;
		rd[i].errmsg = fake_err;
		rd[i].arg = NULL;
		rd[i].view = NULL;
	}
	ck_assert_int_eq(mz_result_init(r), 0);
	ck_assert_int_eq(mz_scan(&l, BASE, rd, &range, 1, &o, r), 0);
}

static void run_layout(struct mz_result *r, const struct mz_layout *l)
{
	struct mz_reader rd = { fake_read, fake_err, NULL, NULL };
	struct mz_range range = { 0, NPAGES };
	struct mz_scan_opts o = { NULL, 0, 1, 1 };

	ck_assert_int_eq(mz_result_init(r), 0);
	ck_assert_int_eq(mz_scan(l, BASE, &rd, &range, 1, &o, r), 0);
}

/* v7.3: obj_exts_needs_objcg / obj_exts_in_object bits in the slab's
 * counters word (after frozen), no stride member. */
START_TEST(test_obj_exts_bits)
{
	const uint64_t O = 0xffff888000500000ull, P = 0xffff888000700000ull;
	const uint64_t cache = VEC + 2048;
	const uint32_t in_obj = 32 * 8 + 32, needs = 32 * 8 + 33;
	struct mz_layout l;
	struct mz_result r;
	uint32_t size = 24;

	layout61(&l);
	l.in_object_bit = in_obj;
	l.needs_objcg_bit = needs;
	l.off_cache_size = 12;
	l.codetag = 1;
	fill();
	put(pg(7), 8, cache);
	memcpy(vecmem + 2048 + 12, &size, 4);
	put(vecmem, 0, O);
	put(vecmem, 8, P);	/* a codetag ref with 2-element extensions */
	put(vecmem, 16, O);
	put(vecmem, 24, P);
	put(vecmem, 32, P);
	/* needs_objcg clear: no objcg elements, nothing read or counted */
	run_layout(&r, &l);
	ck_assert_uint_eq(r.slabs_with_vector, 0);
	ck_assert_uint_eq(r.slab_objects.len, 0);
	mz_result_free(&r);
	/* objcg + codetag: 16 bytes per object -> O, O, P */
	put(pg(7), 32, (uint64_t)3 << 16 | (uint64_t)1 << 33);
	run_layout(&r, &l);
	ck_assert_uint_eq(r.slabs_with_vector, 1);
	ck_assert_uint_eq(mz_tab_find(&r.slab_objects, O, cache, 0)->n[0], 2);
	ck_assert_uint_eq(mz_tab_find(&r.slab_objects, P, cache, 0)->n[0], 1);
	mz_result_free(&r);
	/* in the objects: s->size (24) apart -> O, P, 0 */
	put(vecmem, 48, 0);
	put(pg(7), 32, (uint64_t)3 << 16 | (uint64_t)3 << 32);
	run_layout(&r, &l);
	ck_assert_uint_eq(mz_tab_find(&r.slab_objects, O, cache, 0)->n[0], 1);
	ck_assert_uint_eq(mz_tab_find(&r.slab_objects, P, cache, 0)->n[0], 1);
	mz_result_free(&r);
	/* an unreadable kmem_cache: one CACHE fault, the slab skipped */
	put(pg(7), 8, 0xffff888000600000ull);
	run_layout(&r, &l);
	ck_assert_uint_eq(r.nfaults, 1);
	ck_assert_uint_eq(r.faults[0].kind, MZ_FAULT_CACHE);
	ck_assert_uint_eq(r.faults[0].addr, 0xffff888000600000ull);
	ck_assert_uint_eq(r.slabs_with_vector, 0);
	mz_result_free(&r);
}
END_TEST

static void run_ranges(struct mz_result *r, const struct mz_range *ranges, size_t n,
		       mz_view_fn view)
{
	struct mz_layout l;
	struct mz_reader rd = { fake_read, fake_err, NULL, view };
	struct mz_scan_opts o = { NULL, 0, 1, 1 };

	layout61(&l);
	ck_assert_int_eq(mz_result_init(r), 0);
	ck_assert_int_eq(mz_scan(&l, BASE, &rd, ranges, n, &o, r), 0);
}

static void same_tab(const struct mz_tab *a, const struct mz_tab *b)
{
	size_t i;

	ck_assert_uint_eq(a->len, b->len);
	for (i = 0; i < a->cap; i++) {
		const struct mz_ent *e = &a->e[i], *f;

		if (!e->used)
			continue;
		f = mz_tab_find(b, e->k[0], e->k[1], e->k[2]);
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(memcmp(e->n, f->n, sizeof(e->n)), 0);
	}
}

/* Scanning in place (reader views) counts what reading does, faults
 * included, for whole chunks and for one-page slab walks. */
START_TEST(test_views)
{
	const struct mz_range whole = { 0, NPAGES }, hole = { 100, 200 };
	struct mz_range slabs[3] = { { 7, 8 }, { 7, 9 }, { 1, 2 } };
	struct mz_result a, b;
	int k;

	for (k = 0; k < 3; k++) {
		const struct mz_range *rs = k == 2 ? slabs : k ? &hole : &whole;
		size_t n = k == 2 ? 3 : 1;

		fill();
		hole_lo = 150;
		hole_hi = 151;
		run_ranges(&a, rs, n, NULL);
		fake_views = 0;
		run_ranges(&b, rs, n, fake_view);
		hole_lo = hole_hi = NPAGES;
		ck_assert_int_gt(fake_views, 0);
		same_tab(&a.by_owner, &b.by_owner);
		same_tab(&a.folios, &b.folios);
		same_tab(&a.by_mapping, &b.by_mapping);
		same_tab(&a.slab_objects, &b.slab_objects);
		ck_assert_uint_eq(a.slabs_with_vector, b.slabs_with_vector);
		ck_assert_uint_eq(a.pages_scanned, b.pages_scanned);
		ck_assert_uint_eq(a.nfaults, b.nfaults);
		ck_assert_uint_eq(a.nfaults, (k == 2 ? 0 : 1));	/* pfn 150 */
		mz_result_free(&a);
		mz_result_free(&b);
	}
}
END_TEST

/* A piece smaller than a page is parsed from the page cache's copy of its
 * memmap page; the slab vector read inside the parse reuses that slot
 * (VEC and BASE map to slot 0): the rest of the piece must still be the
 * memmap's. */
START_TEST(test_piece_outlives_slot)
{
	const struct mz_range r78 = { 7, 9 };
	struct mz_result r;

	ck_assert_uint_eq((BASE >> MZ_PC_SHIFT) % MZ_PC_SLOTS, (VEC >> MZ_PC_SHIFT) % MZ_PC_SLOTS);
	fill();
	run_ranges(&r, &r78, 1, NULL);
	ck_assert_uint_eq(r.slabs_with_vector, 1);
	ck_assert_uint_eq(owner_pages(&r, 0xffff888000300000ull, MZ_SWAPCACHE), 1);
	ck_assert_uint_eq(r.pages_scanned, 2);
	mz_result_free(&r);
}
END_TEST

START_TEST(test_classes)
{
	struct mz_result r;
	const uint64_t M = 0xffff888000300000ull, O = 0xffff888000500000ull;

	fill();
	run(&r, 1, NULL, 0);
	ck_assert_uint_eq(r.pages_scanned, NPAGES);
	ck_assert_uint_eq(owner_pages(&r, 0, MZ_FREE), 2);
	ck_assert_uint_eq(owner_pages(&r, M, MZ_FILE), 1);
	ck_assert_uint_eq(owner_pages(&r, M, MZ_ANON), 4);	/* head + 3 tails */
	ck_assert_uint_eq(owner_pages(&r, O, MZ_KMEM), 1);
	ck_assert_uint_eq(owner_pages(&r, 0, MZ_SLAB), 1);	/* a vector is no owner */
	ck_assert_uint_eq(owner_pages(&r, M, MZ_SWAPCACHE), 1);
	ck_assert_uint_eq(owner_pages(&r, 0, MZ_OTHER), NPAGES - 10);
	ck_assert_uint_eq(r.slabs_with_vector, 1);
	ck_assert_ptr_nonnull(mz_tab_find(&r.slab_objects, O, 0xffff888000600000ull, 0));
	ck_assert_uint_eq(mz_tab_find(&r.slab_objects, O, 0xffff888000600000ull, 0)->n[0], 2);
	ck_assert_uint_eq(mz_tab_find(&r.folios, M, MZ_ANON, 0)->n[0], 1);
	ck_assert_uint_eq(mz_tab_find(&r.by_mapping, M, 0xffff888000200000ull, 0)->n[1], 1);
	ck_assert_uint_eq(r.nfaults, 0);
	mz_result_free(&r);
}
END_TEST

START_TEST(test_threads_and_interest)
{
	struct mz_result a, b;
	const uint64_t none[] = { 0x1234 };

	fill();
	run(&a, 1, NULL, 0);
	run(&b, 3, none, 1);
	ck_assert_uint_eq(a.by_owner.len, b.by_owner.len);
	ck_assert_uint_eq(b.by_mapping.len, 0);	/* no owner of interest */
	ck_assert_uint_eq(owner_pages(&b, 0xffff888000300000ull, MZ_ANON), 4);
	mz_result_free(&a);
	mz_result_free(&b);
}
END_TEST

START_TEST(test_hole_and_far_head)
{
	struct mz_result r;

	fill();
	/* pages 64..127 unreadable: one 4 KiB piece lost, reported once */
	hole_lo = 64;
	hole_hi = 128;
	/* page 200 is a tail of page 100, which is in the hole */
	put(pg(200), 8, BASE + 100 * 64 + 1);
	run(&r, 1, NULL, 0);
	ck_assert_uint_eq(r.pages_scanned, NPAGES - 64);
	ck_assert_uint_eq(r.nfaults, 2);
	ck_assert_int_eq(r.faults[0].kind, MZ_FAULT_MEMMAP);
	ck_assert_uint_eq(r.faults[0].pfn, 64);
	ck_assert_uint_eq(r.faults[0].hi, 128);
	ck_assert_int_eq(r.faults[1].kind, MZ_FAULT_HEAD);
	ck_assert_uint_eq(r.faults[1].addr, BASE + 100 * 64);
	hole_lo = hole_hi = NPAGES;
	mz_result_free(&r);
}
END_TEST

START_TEST(test_page_types)
{
	struct mz_layout l;

	mz_layout_init(&l);
	l.top_byte = 1;
	ck_assert(mz_is_type(&l, 0xf5000000u, 0xf5));
	ck_assert(!mz_is_type(&l, 0xf0000000u, 0xf5));
	ck_assert(!mz_is_type(&l, 0xf5000000u, MZ_NONE));
	l.top_byte = 0;
	ck_assert(mz_is_type(&l, 0xffffff7fu, 0x80));
	ck_assert(!mz_is_type(&l, 0xffffffffu, 0x80));	/* -1: no type */
	ck_assert(!mz_is_type(&l, 0x0000007fu, 0x80));	/* a mapcount */
}
END_TEST

START_TEST(test_tail_mask)
{
	struct mz_layout l;
	uint64_t page = 0xffffea0000123440ull;

	mz_layout_init(&l);
	ck_assert_uint_eq(mz_tail_head(&l, page, 0xffffea0000120001ull), 0xffffea0000120000ull);
	l.info_mask = 1;
	/* v7.1 HVO: GENMASK(63, 9 + 6) | 1 names the head by masking */
	ck_assert_uint_eq(mz_tail_head(&l, page, ~((1ull << 15) - 1) | 1), 0xffffea0000120000ull);
	/* a plain pointer still works under info_mask */
	ck_assert_uint_eq(mz_tail_head(&l, page, 0xffffea0000120001ull), 0xffffea0000120000ull);
}
END_TEST

START_TEST(test_vector_stride)
{
	unsigned char v[64] = { 0 };
	struct mz_tab t;

	put(v, 0, 0x10);
	put(v, 24, 0x10);
	put(v, 48, 0x20);
	ck_assert_int_eq(mz_tab_init(&t, 4), 0);
	ck_assert_int_eq(mz_slab_vector_count(v, sizeof(v), 3, 24, 7, &t), 0);
	ck_assert_uint_eq(mz_tab_find(&t, 0x10, 7, 0)->n[0], 2);
	ck_assert_uint_eq(mz_tab_find(&t, 0x20, 7, 0)->n[0], 1);
	/* stride not in whole words: ignored, as scan/python_engine.py does */
	ck_assert_int_eq(mz_slab_vector_count(v, sizeof(v), 3, 12, 8, &t), 0);
	ck_assert_ptr_null(mz_tab_find(&t, 0x10, 8, 0));
	/* n beyond the buffer: bounded */
	ck_assert_int_eq(mz_slab_vector_count(v, sizeof(v), 1000, 8, 9, &t), 0);
	/* runs: a a 0 a b b a, stride 8 */
	memset(v, 0, sizeof(v));
	put(v, 0, 0x10);
	put(v, 8, 0x10);
	put(v, 24, 0x10);
	put(v, 32, 0x20);
	put(v, 40, 0x20);
	put(v, 48, 0x10);
	ck_assert_int_eq(mz_slab_vector_count(v, sizeof(v), 8, 8, 10, &t), 0);
	ck_assert_uint_eq(mz_tab_find(&t, 0x10, 10, 0)->n[0], 4);
	ck_assert_uint_eq(mz_tab_find(&t, 0x20, 10, 0)->n[0], 2);
	ck_assert_ptr_null(mz_tab_find(&t, 0, 10, 0));
	mz_tab_free(&t);
}
END_TEST

START_TEST(test_table_grows)
{
	struct mz_tab t;
	uint64_t i;

	ck_assert_int_eq(mz_tab_init(&t, 1), 0);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(mz_tab_add(&t, i * 64, i & 7, 0, 1), 0);
	ck_assert_uint_eq(t.len, 100000);
	ck_assert_uint_eq(mz_tab_find(&t, 64 * 777, 777 & 7, 0)->n[0], 1);
	mz_tab_free(&t);
}
END_TEST

/* A reader over three pages at PC_BASE whose third page fails, counting calls. */
#define PC_BASE 0xffff888000200000ull
static unsigned char pcmem[3 * 4096];
static int pc_calls;

static int pc_read(void *arg, uint64_t a, void *buf, size_t len)
{
	(void)arg;
	pc_calls++;
	if (a < PC_BASE || a + len > PC_BASE + 2 * 4096)
		return -1;
	memcpy(buf, pcmem + (a - PC_BASE), len);
	return 0;
}

START_TEST(test_pcache)
{
	struct mz_reader rd = { pc_read, NULL, NULL, NULL };
	struct mz_pcache c;
	unsigned char out[5000];
	size_t i;

	for (i = 0; i < sizeof(pcmem); i++)
		pcmem[i] = (unsigned char)(i * 7 + 3);
	pc_calls = 0;
	ck_assert_int_eq(mz_pcache_init(&c), 0);
	/* Two vectors in one page: one reader call. */
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 100, out, 168), 0);
	ck_assert_int_eq(memcmp(out, pcmem + 100, 168), 0);
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 268, out, 168), 0);
	ck_assert_int_eq(memcmp(out, pcmem + 268, 168), 0);
	ck_assert_int_eq(pc_calls, 1);
	/* Across the page boundary: the second page is read once. */
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 4000, out, 200), 0);
	ck_assert_int_eq(memcmp(out, pcmem + 4000, 200), 0);
	ck_assert_int_eq(pc_calls, 2);
	/* A page that does not read: -1 (the caller reads exactly), not cached. */
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 2 * 4096 + 8, out, 8), -1);
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 2 * 4096 + 8, out, 8), -1);
	ck_assert_int_eq(pc_calls, 4);
	/* A read over the end of good memory fails as a whole. */
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 2 * 4096 - 8, out, 16), -1);
	/* Larger than two pages: not cached. */
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE, out, 3 * 4096), -1);
	/* A page evicted by another with its slot is read again. */
	pc_calls = 0;
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + (uint64_t)MZ_PC_SLOTS * 4096, out, 8), -1);
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 4, out, 8), 0);
	ck_assert_int_eq(memcmp(out, pcmem + 4, 8), 0);
	ck_assert_int_eq(pc_calls, 2);
	ck_assert_uint_eq(c.reads, 7);
	mz_pcache_free(&c);
}
END_TEST

static int pv_calls;

static const void *pc_view(void *arg, uint64_t a, size_t len)
{
	(void)arg;
	pv_calls++;
	/* the second page has no view: copied through pc_read */
	if (a < PC_BASE || a + len > PC_BASE + 4096)
		return NULL;
	return pcmem + (a - PC_BASE);
}

START_TEST(test_pcache_views)
{
	struct mz_reader rd = { pc_read, NULL, NULL, pc_view };
	struct mz_pcache c;
	const unsigned char *v;
	unsigned char out[200];

	pc_calls = pv_calls = 0;
	ck_assert_int_eq(mz_pcache_init(&c), 0);
	/* In place: the reader's own bytes, nothing copied or allocated. */
	v = mz_pcache_view(&c, &rd, PC_BASE + 100, 168);
	ck_assert_ptr_eq(v, pcmem + 100);
	ck_assert_ptr_eq(mz_pcache_view(&c, &rd, PC_BASE + 300, 8), pcmem + 300);
	ck_assert_int_eq(pv_calls, 1);
	ck_assert_int_eq(pc_calls, 0);
	ck_assert_ptr_null(c.data);
	ck_assert_int_eq(mz_pcache_owns(&c, v), 0);
	/* Spanning two pages: no view (the caller copies). */
	ck_assert_ptr_null(mz_pcache_view(&c, &rd, PC_BASE + 4000, 200));
	ck_assert_int_eq(mz_pcache_read(&c, &rd, PC_BASE + 4000, out, 200), 0);
	ck_assert_int_eq(memcmp(out, pcmem + 4000, 200), 0);
	/* A page without a view is read into the cache's own copy. */
	v = mz_pcache_view(&c, &rd, PC_BASE + 4096 + 8, 8);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(memcmp(v, pcmem + 4096 + 8, 8), 0);
	ck_assert_int_eq(mz_pcache_owns(&c, v), 1);
	ck_assert_int_eq(pc_calls, 1);
	mz_pcache_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("libhelper core");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_classes);
	tcase_add_test(tc, test_threads_and_interest);
	tcase_add_test(tc, test_hole_and_far_head);
	tcase_add_test(tc, test_page_types);
	tcase_add_test(tc, test_tail_mask);
	tcase_add_test(tc, test_vector_stride);
	tcase_add_test(tc, test_table_grows);
	tcase_add_test(tc, test_pcache);
	tcase_add_test(tc, test_pcache_views);
	tcase_add_test(tc, test_views);
	tcase_add_test(tc, test_piece_outlives_slot);
	tcase_add_test(tc, test_obj_exts_bits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);	/* sanitizers see everything */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
