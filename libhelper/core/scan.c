/* The memmap scan, step for step analyzers/memcg_zombies/scan/python_engine.py's _Scanner:
 *
 * - each PFN range is cut into MZ_CHUNK_BYTES reads; a failed read is
 *   retried in 64 KiB, then 4 KiB pieces, and what still fails becomes a
 *   memmap fault (PageScan.read_errors);
 * - an uncharged page that is not a tail is classified alone, owner 0;
 * - a charged page or a tail is classified from its head (in the same
 *   piece, else read on its own), and counted per owner, per mapping for
 *   owners of interest, and a slab head's object vector is walked.
 *
 * - heads read on their own and object vectors go through a small page
 *   cache (pcache.h): one reader call per page, not per slab.
 *
 * Threads take batches of chunks (consecutive small ranges, e.g. one slab
 * page each, go together up to MZ_CHUNK_BYTES, so that one thread's page
 * cache sees neighbouring pages) from a shared counter and count into their own
 * tables; results do not depend on the order (sums), and faults are sorted
 * back into scan order at the end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "pcache.h"
#include "scan.h"

/* At most this many small chunks to a batch: enough for the page cache to
 * pay, few enough that threads share the work. */
#define MZ_BATCH_CHUNKS 256

struct chunk {
	uint32_t range;
	uint64_t lo, hi;
};

struct job {
	const struct mz_layout *l;
	uint64_t base;
	const struct mz_scan_opts *o;
	struct chunk *chunks;
	size_t nchunks;
	size_t *batch;		/* batch b: chunks [batch[b], batch[b + 1]) */
	size_t nbatches;
	size_t next;		/* next batch to take (atomic) */
	int failed;		/* out of memory somewhere (atomic) */
	struct mz_set owners;
};

struct worker {
	struct job *job;
	struct mz_reader rd;
	struct mz_result res;
	struct mz_pcache pc;
	unsigned char *buf;
	unsigned char *vec;
	size_t vec_len;
	uint32_t range;
	int err;
};

int mz_result_init(struct mz_result *r)
{
	memset(r, 0, sizeof(*r));
	if (mz_tab_init(&r->by_owner, 256) || mz_tab_init(&r->folios, 256) ||
	    mz_tab_init(&r->by_mapping, 256) || mz_tab_init(&r->slab_objects, 1024)) {
		mz_result_free(r);
		return -1;
	}
	return 0;
}

void mz_result_free(struct mz_result *r)
{
	size_t i;

	mz_tab_free(&r->by_owner);
	mz_tab_free(&r->folios);
	mz_tab_free(&r->by_mapping);
	mz_tab_free(&r->slab_objects);
	for (i = 0; i < r->nfaults; i++)
		free(r->faults[i].msg);
	free(r->faults);
	r->faults = NULL;
	r->nfaults = r->faults_cap = 0;
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s ? s : "") + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s ? s : "", n);
	return d;
}

static void add_fault(struct worker *w, const struct mz_fault *f)
{
	struct mz_result *r = &w->res;

	if (r->nfaults == r->faults_cap) {
		size_t cap = r->faults_cap ? 2 * r->faults_cap : 16;
		struct mz_fault *nf = realloc(r->faults, cap * sizeof(*nf));

		if (!nf) {
			w->err = -1;
			return;
		}
		r->faults = nf;
		r->faults_cap = cap;
	}
	r->faults[r->nfaults] = *f;
	r->faults[r->nfaults].msg =
		dupstr(w->rd.errmsg ? w->rd.errmsg(w->rd.arg) : "read failed");
	if (!r->faults[r->nfaults].msg) {
		w->err = -1;
		return;
	}
	r->nfaults++;
}

static int do_read(struct worker *w, uint64_t addr, void *buf, size_t len)
{
	w->res.reads++;
	if (w->rd.read(w->rd.arg, addr, buf, len))
		return -1;
	w->res.bytes_read += len;
	return 0;
}

/* A head or a vector: from cached pages, else read exactly (its fault and
 * message are then the reader's own). */
static int small_read(struct worker *w, uint64_t addr, void *buf, size_t len)
{
	if (!mz_pcache_read(&w->pc, &w->rd, addr, buf, len))
		return 0;
	return do_read(w, addr, buf, len);
}

/* The same, in place where it can be (one page, cached or viewed), else
 * copied into buf; NULL when it does not read. */
static const unsigned char *small_view(struct worker *w, uint64_t addr, void *buf,
				       size_t len)
{
	const unsigned char *v = mz_pcache_view(&w->pc, &w->rd, addr, len);

	if (v)
		return v;
	return small_read(w, addr, buf, len) ? NULL : buf;
}

static void bump(struct worker *w, struct mz_tab *t, uint64_t owner, unsigned cls)
{
	if (mz_tab_add(t, owner, cls, 0, 1))
		w->err = -1;
}

/* Count the objcgs of the slab whose head struct page is 'page'. */
static void slab_vector(struct worker *w, const unsigned char *page,
			uint64_t addr, uint64_t pfn, uint64_t vec)
{
	const struct mz_layout *l = w->job->l;
	uint64_t cache = l->off_cache != MZ_NONE ? mz_u64(page, l->off_cache) : 0;
	uint64_t nobj = mz_slab_nobj(l, page);
	uint64_t stride = mz_slab_stride(l, page);
	uint64_t len;
	const unsigned char *v;
	struct mz_fault f = { MZ_FAULT_VECTOR, w->range, pfn, 0, vec, addr, NULL };

	if (l->needs_objcg_bit != MZ_NONE) {
		/* v7.3: see layout.h. */
		if (!mz_slab_bit(page, l->needs_objcg_bit))
			return;
		if (mz_slab_bit(page, l->in_object_bit)) {
			uint32_t size;

			if (small_read(w, cache + l->off_cache_size, &size, sizeof(size))) {
				struct mz_fault cf = { MZ_FAULT_CACHE, w->range, pfn, 0, cache,
						       addr, NULL };

				add_fault(w, &cf);
				return;
			}
			stride = size;
		} else {
			stride = (uint64_t)(1 + l->codetag) * l->ext_size;
		}
	}
	len = nobj * stride;
	if (!nobj)
		return;
	if (len > MZ_MAX_VECTOR_BYTES) {
		/* Python would attempt it and fail; a garbage slab. */
		w->res.reads++;
		add_fault(w, &f);
		return;
	}
	/* Most vectors lie in one page: counted in place. */
	v = mz_pcache_view(&w->pc, &w->rd, vec, len);
	if (!v) {
		if (len > w->vec_len) {
			unsigned char *nb = realloc(w->vec, len);

			if (!nb) {
				w->err = -1;
				return;
			}
			w->vec = nb;
			w->vec_len = len;
		}
		if (small_read(w, vec, w->vec, len)) {
			add_fault(w, &f);
			return;
		}
		v = w->vec;
	}
	w->res.slabs_with_vector++;
	if (mz_slab_vector_count(v, len, nobj, stride, cache, &w->res.slab_objects))
		w->err = -1;
}

/* Charged pages and tails: python_engine.py's _Scanner._slow for page i. */
static void slow_page(struct worker *w, const unsigned char *buf, uint64_t pfn0,
		      uint64_t n, uint64_t i)
{
	const struct mz_layout *l = w->job->l;
	uint32_t ps = l->psize;
	uint64_t chunk_addr = w->job->base + pfn0 * ps;
	uint64_t addr = chunk_addr + i * ps;
	const unsigned char *p = buf + i * ps;
	uint64_t info = mz_u64(p, l->off_comp), head;
	int tail = info & 1;
	struct mz_fields hf;
	unsigned cls;
	uint64_t owner;
	const unsigned char *hp;
	unsigned char hbuf[4096];

	if (tail) {
		head = mz_tail_head(l, addr, info);
	} else if (l->fake_heads && (mz_u64(p, l->off_flags) & l->PG_head) &&
		   i + 1 < n && (mz_u64(p + ps, l->off_comp) & 1) &&
		   mz_u64(p + ps, l->off_comp) - 1 != addr) {
		/* HVO fake head (v5.18-v7.0): a tail of page[1]'s head. */
		head = mz_u64(p + ps, l->off_comp) - 1;
		tail = 1;
	} else {
		head = addr;
	}
	if (head == addr) {
		mz_fields_of(l, p, &hf);
	} else if (head >= chunk_addr && (head - chunk_addr) % ps == 0 &&
		   (head - chunk_addr) / ps < n) {
		mz_fields_of(l, buf + (head - chunk_addr), &hf);
	} else if ((hp = small_view(w, head, hbuf, ps))) {
		mz_fields_of(l, hp, &hf);
	} else {
		struct mz_fault f = { MZ_FAULT_HEAD, w->range, pfn0 + i, 0, head, 0, NULL };

		add_fault(w, &f);
		bump(w, &w->res.by_owner, 0, MZ_OTHER);
		return;
	}
	cls = mz_classify(l, &hf);
	owner = mz_owner(l, cls, hf.memcg);
	bump(w, &w->res.by_owner, owner, cls);
	if (!tail) {
		bump(w, &w->res.folios, owner, cls);
		if (cls == MZ_SLAB && (hf.memcg & l->vector_bit) && (hf.memcg & l->vec_mask))
			slab_vector(w, p, addr, pfn0 + i, hf.memcg & l->vec_mask);
	}
	if (MZ_BY_MAPPING(cls) &&
	    (w->job->o->all_owners || mz_set_has(&w->job->owners, owner))) {
		uint64_t *c = mz_tab_at(&w->res.by_mapping, owner, hf.mapping, 0, cls);

		if (!c) {
			w->err = -1;
			return;
		}
		c[0]++;
		if (hf.flags & l->PG_dirty)
			c[1]++;
		if (hf.flags & l->PG_writeback)
			c[2]++;
		if (!tail)
			c[3]++;
	}
}

/* python_engine.py's _Scanner._chunk over one piece that was read. */
static void parse(struct worker *w, const unsigned char *buf, uint64_t pfn0, uint64_t n)
{
	const struct mz_layout *l = w->job->l;
	uint32_t ps = l->psize;
	/* Uncharged order-0 pages, most of memory: counted per class here and
	 * added to the tables once per piece, not looked up per page. */
	uint64_t plain[MZ_NCLASS] = { 0 };
	uint64_t i;
	unsigned c;

	for (i = 0; i < n; i++) {
		const unsigned char *p = buf + i * ps;
		struct mz_fields f;

		mz_fields_of(l, p, &f);
		if (f.memcg || (mz_u64(p, l->off_comp) & 1)) {
			slow_page(w, buf, pfn0, n, i);
			continue;
		}
		plain[mz_classify(l, &f)]++;
	}
	for (c = 0; c < MZ_NCLASS; c++) {
		if (plain[c] && (mz_tab_add(&w->res.by_owner, 0, c, 0, plain[c]) ||
				 mz_tab_add(&w->res.folios, 0, c, 0, plain[c])))
			w->err = -1;
	}
	w->res.pages_scanned += n;
}

static const uint32_t retry_bytes[] = { MZ_RETRY1_BYTES, MZ_RETRY2_BYTES };

static void read_range(struct worker *w, uint64_t lo, uint64_t hi, unsigned level)
{
	uint32_t ps = w->job->l->psize;
	uint64_t len = (hi - lo) * ps, addr = w->job->base + lo * ps;
	uint64_t step, pfn;
	const unsigned char *v;

	/* A piece within a page (one slab's struct page) is a small read;
	 * a larger one is scanned in place where the reader can view it. */
	if (len <= MZ_PC_PAGE) {
		v = small_view(w, addr, w->buf, len);
		/* The parse's own head and vector reads may reuse that slot. */
		if (v && v != w->buf && mz_pcache_owns(&w->pc, v)) {
			memcpy(w->buf, v, len);
			v = w->buf;
		}
	} else if (w->rd.view && (v = w->rd.view(w->rd.arg, addr, len))) {
		w->res.reads++;
		w->res.bytes_read += len;
	} else {
		v = do_read(w, addr, w->buf, len) ? NULL : w->buf;
	}
	if (v) {
		parse(w, v, lo, hi - lo);
		return;
	}
	if (level >= sizeof(retry_bytes) / sizeof(retry_bytes[0])) {
		struct mz_fault f = { MZ_FAULT_MEMMAP, w->range, lo, hi, 0, 0, NULL };

		add_fault(w, &f);
		return;
	}
	step = retry_bytes[level] / ps ? retry_bytes[level] / ps : 1;
	for (pfn = lo; pfn < hi; pfn += step)
		read_range(w, pfn, hi - pfn < step ? hi : pfn + step, level + 1);
}

/* A walk of slabs alone (one struct page per chunk) waits on memory twice
 * per slab: its struct page, then its vector.  Where the reader has views,
 * touch them ahead: the struct page of chunk i + 2 * MZ_AHEAD, the vector
 * of chunk i + MZ_AHEAD (whose struct page is cached by then). */
#define MZ_AHEAD 4

static const unsigned char *ahead_page(struct worker *w, const struct chunk *c)
{
	uint32_t ps = w->job->l->psize;
	uint64_t addr = w->job->base + c->lo * ps;
	const unsigned char *p;

	if ((c->hi - c->lo) * ps > MZ_PC_PAGE || (addr & (MZ_PC_PAGE - 1)) + ps > MZ_PC_PAGE)
		return NULL;
	p = mz_pcache_peek(&w->pc, &w->rd, addr & ~(uint64_t)(MZ_PC_PAGE - 1));
	return p ? p + (addr & (MZ_PC_PAGE - 1)) : NULL;
}

static void ahead(struct worker *w, size_t i, size_t end)
{
	const struct mz_layout *l = w->job->l;
	const unsigned char *p, *v;
	struct mz_fields f;
	uint64_t vec;

	if (i + 2 * MZ_AHEAD < end && (p = ahead_page(w, &w->job->chunks[i + 2 * MZ_AHEAD])))
		__builtin_prefetch(p + l->off_memcg);
	if (i + MZ_AHEAD >= end || !(p = ahead_page(w, &w->job->chunks[i + MZ_AHEAD])))
		return;
	mz_fields_of(l, p, &f);
	if (!(f.memcg & l->vector_bit) || !(vec = f.memcg & l->vec_mask))
		return;
	v = mz_pcache_peek(&w->pc, &w->rd, vec & ~(uint64_t)(MZ_PC_PAGE - 1));
	if (v) {
		v += vec & (MZ_PC_PAGE - 1);
		__builtin_prefetch(v);
		__builtin_prefetch(v + 64);
		__builtin_prefetch(v + 128);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->job;

	for (;;) {
		size_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED), i;

		if (b >= j->nbatches || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
			break;
		for (i = j->batch[b]; i < j->batch[b + 1] && !w->err; i++) {
			if (w->rd.view)
				ahead(w, i, j->batch[b + 1]);
			w->range = j->chunks[i].range;
			read_range(w, j->chunks[i].lo, j->chunks[i].hi, 0);
		}
		if (w->err)
			__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int fault_cmp(const void *a, const void *b)
{
	const struct mz_fault *x = a, *y = b;

	if (x->range != y->range)
		return x->range < y->range ? -1 : 1;
	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return 0;
}

static int merge(struct mz_result *d, struct mz_result *s)
{
	size_t need = d->nfaults + s->nfaults;

	if (mz_tab_merge(&d->by_owner, &s->by_owner) ||
	    mz_tab_merge(&d->folios, &s->folios) ||
	    mz_tab_merge(&d->by_mapping, &s->by_mapping) ||
	    mz_tab_merge(&d->slab_objects, &s->slab_objects))
		return -1;
	d->slabs_with_vector += s->slabs_with_vector;
	d->pages_scanned += s->pages_scanned;
	d->reads += s->reads;
	d->bytes_read += s->bytes_read;
	if (need > d->faults_cap) {
		struct mz_fault *nf = realloc(d->faults, need * sizeof(*nf));

		if (!nf)
			return -1;
		d->faults = nf;
		d->faults_cap = need;
	}
	if (s->nfaults)
		memcpy(d->faults + d->nfaults, s->faults, s->nfaults * sizeof(struct mz_fault));
	d->nfaults = need;
	s->nfaults = 0;	/* messages now belong to d */
	return 0;
}

/* python_engine.py's read loop: per range, chunks of MZ_CHUNK_BYTES from its start;
 * then batches of consecutive chunks of at most MZ_CHUNK_BYTES in all. */
static int make_chunks(const struct mz_layout *l, const struct mz_range *ranges,
		       size_t nranges, struct job *j)
{
	uint64_t per = MZ_CHUNK_BYTES / l->psize ? MZ_CHUNK_BYTES / l->psize : 1;
	uint64_t pages = 0;
	size_t n = 0, k = 0, i;
	struct chunk *c;

	for (i = 0; i < nranges; i++)
		if (ranges[i].hi > ranges[i].lo)
			n += (ranges[i].hi - ranges[i].lo + per - 1) / per;
	c = calloc(n ? n : 1, sizeof(*c));
	j->batch = calloc(n + 1, sizeof(*j->batch));
	if (!c || !j->batch) {
		free(c);
		return -1;
	}
	j->chunks = c;
	for (i = 0; i < nranges; i++) {
		uint64_t pfn;

		for (pfn = ranges[i].lo; pfn < ranges[i].hi; pfn += per) {
			c[k].range = (uint32_t)i;
			c[k].lo = pfn;
			c[k].hi = ranges[i].hi - pfn < per ? ranges[i].hi : pfn + per;
			if (k && pages + (c[k].hi - c[k].lo) <= per &&
			    k - j->batch[j->nbatches - 1] < MZ_BATCH_CHUNKS) {
				pages += c[k].hi - c[k].lo;
			} else {
				j->batch[j->nbatches++] = k;
				pages = c[k].hi - c[k].lo;
			}
			k++;
		}
	}
	j->batch[j->nbatches] = k;
	j->nchunks = k;
	return 0;
}

int mz_scan(const struct mz_layout *l, uint64_t base,
	    const struct mz_reader *readers, const struct mz_range *ranges,
	    size_t nranges, const struct mz_scan_opts *opts,
	    struct mz_result *res)
{
	struct job job;
	struct worker *ws;
	pthread_t *tids;
	int nt = opts->nthreads > 0 ? opts->nthreads : 1;
	int i, ret = 0, started = 0;

	if (mz_layout_check(l))
		return -1;
	memset(&job, 0, sizeof(job));
	job.l = l;
	job.base = base;
	job.o = opts;
	if (make_chunks(l, ranges, nranges, &job))
		return -1;
	if (mz_set_init(&job.owners, opts->owners, opts->nowners)) {
		free(job.chunks);
		free(job.batch);
		return -1;
	}
	if ((size_t)nt > job.nbatches)
		nt = job.nbatches ? (int)job.nbatches : 1;
	ws = calloc(nt, sizeof(*ws));
	tids = calloc(nt, sizeof(*tids));
	if (!ws || !tids)
		ret = -1;
	for (i = 0; !ret && i < nt; i++) {
		ws[i].job = &job;
		ws[i].rd = readers[i];
		ws[i].buf = malloc(MZ_CHUNK_BYTES + l->psize);
		if (!ws[i].buf || mz_result_init(&ws[i].res) || mz_pcache_init(&ws[i].pc))
			ret = -1;
	}
	if (!ret && nt == 1) {
		/* Inline: the drgn reader must run on the caller's thread. */
		worker_main(&ws[0]);
	} else if (!ret) {
		for (i = 0; i < nt; i++) {
			if (pthread_create(&tids[i], NULL, worker_main, &ws[i]))
				break;
			started++;
		}
		if (!started)
			worker_main(&ws[0]);
		for (i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
	}
	for (i = 0; ws && i < nt; i++) {
		ws[i].res.reads += ws[i].pc.reads;
		ws[i].res.bytes_read += ws[i].pc.bytes;
		if (!ret && (ws[i].err || merge(res, &ws[i].res)))
			ret = -1;
		mz_result_free(&ws[i].res);
		free(ws[i].buf);
		free(ws[i].vec);
		mz_pcache_free(&ws[i].pc);
	}
	if (!ret && res->nfaults)
		qsort(res->faults, res->nfaults, sizeof(*res->faults), fault_cmp);
	free(ws);
	free(tids);
	free(job.chunks);
	free(job.batch);
	mz_set_free(&job.owners);
	return ret;
}
