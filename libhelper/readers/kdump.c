/* libkdumpfile reader: see kdump.h for why every reader owns its context,
 * and why ELF files are read from a mapping. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libkdumpfile/kdumpfile.h>
#include "kdump.h"
#include "../core/reader.h"

/* A PT_LOAD of an ELF vmcore: physical [paddr, end), file data for the
 * first filesz bytes at off (the rest reads as zeros, as the ELF says). */
struct elf_seg {
	uint64_t paddr, end, off, filesz;
};

struct mz_kdump {
	kdump_ctx_t *ctx;
	int fd;
	char err[512];
	/* ELF only: the file mapped, its segments by paddr, translation. */
	const unsigned char *map;
	size_t map_len;
	struct elf_seg *seg;
	size_t nseg, last;
	addrxlat_ctx_t *axctx;
	addrxlat_sys_t *axsys;
	uint64_t psize;
	uint64_t held, held_len;	/* the last large view's file range */
	int failed;			/* a kdump_read failed */
	unsigned reopened;		/* contexts replaced after a poisoned read */
};

static int seg_cmp(const void *a, const void *b)
{
	const struct elf_seg *x = a, *y = b;

	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

/* Makes the sorted segments disjoint. qemu's paging dumps have one PT_LOAD
 * per virtual mapping, so physical ranges overlap (a vmalloc page inside the
 * direct map's range); the bytes are the same physical memory: keep the
 * first, trim the others to what it does not cover. */
static void disjoint(struct mz_kdump *k)
{
	uint64_t covered = 0;
	size_t i, n = 0;

	for (i = 0; i < k->nseg; i++) {
		struct elf_seg s = k->seg[i];

		if (n && s.end <= covered)
			continue;
		if (n && s.paddr < covered) {
			uint64_t d = covered - s.paddr;

			s.paddr = covered;
			s.off += d;
			s.filesz = s.filesz > d ? s.filesz - d : 0;
		}
		k->seg[n++] = s;
		covered = s.end;
	}
	k->nseg = n;
}

/* Maps an ELF vmcore and lists its PT_LOADs; leaves k->map NULL (every read
 * through kdump_read) when the file is not a plain ELF64 core.  Segment data
 * past the end of the file is never read from the mapping (SIGBUS). */
static void elf_map(struct mz_kdump *k)
{
	struct stat st;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	size_t i;
	void *m;

	if (fstat(k->fd, &st) || (uint64_t)st.st_size < sizeof(Elf64_Ehdr))
		return;
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, k->fd, 0);
	if (m == MAP_FAILED)
		return;
	k->map = m;
	k->map_len = st.st_size;
	eh = m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_type != ET_CORE || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phnum == PN_XNUM || eh->e_phoff > k->map_len ||
	    (k->map_len - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum ||
	    kdump_get_addrxlat(k->ctx, &k->axctx, &k->axsys) != KDUMP_OK ||
	    kdump_get_number_attr(k->ctx, KDUMP_ATTR_PAGE_SIZE, &k->psize) != KDUMP_OK ||
	    !k->psize || (k->psize & (k->psize - 1)))
		goto none;
	k->seg = calloc(eh->e_phnum ? eh->e_phnum : 1, sizeof(*k->seg));
	if (!k->seg)
		goto none;
	ph = (const Elf64_Phdr *)(k->map + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		struct elf_seg *s = &k->seg[k->nseg];

		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz ||
		    ph[i].p_paddr + ph[i].p_memsz < ph[i].p_paddr)
			continue;
		s->paddr = ph[i].p_paddr;
		s->end = ph[i].p_paddr + ph[i].p_memsz;
		s->off = ph[i].p_offset;
		s->filesz = ph[i].p_filesz < ph[i].p_memsz ? ph[i].p_filesz : ph[i].p_memsz;
		if (s->off > k->map_len)
			s->filesz = 0;
		else if (s->filesz > k->map_len - s->off)
			s->filesz = k->map_len - s->off;	/* a truncated file */
		k->nseg++;
	}
	qsort(k->seg, k->nseg, sizeof(*k->seg), seg_cmp);
	disjoint(k);
	return;
none:
	munmap(m, k->map_len);
	k->map = NULL;
}

/* The segment holding [pa, pa + n), or NULL. */
static const struct elf_seg *seg_of(struct mz_kdump *k, uint64_t pa, uint64_t n)
{
	size_t lo = 0, hi = k->nseg;
	const struct elf_seg *s = k->nseg ? &k->seg[k->last] : NULL;

	if (s && pa >= s->paddr && pa + n <= s->end)
		return s;
	while (lo < hi) {	/* lo: the segments starting at or below pa */
		size_t mid = lo + (hi - lo) / 2;

		if (k->seg[mid].paddr <= pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || pa + n > k->seg[lo - 1].end)
		return NULL;
	k->last = lo - 1;
	return &k->seg[lo - 1];
}

/* Drops the pages a large view or read mapped (the page cache keeps them):
 * without this, every memmap page scanned stays in the process's RSS. */
static void release(struct mz_kdump *k, uint64_t fo, uint64_t len)
{
	uint64_t a = fo & ~(k->psize - 1);

	if (len)
		madvise((void *)(k->map + a), fo + len - a, MADV_DONTNEED);
}

/* Where the n bytes at kvaddr (within one page) lie: translated through
 * the kernel's page tables (addrxlat, as kdump_read does) to a PT_LOAD.
 * Returns 1 with the file offset in *fo, 0 when they are past the
 * segment's file data (zeros, as the ELF says), -1 when they are not
 * plainly in the file (unmapped, outside every PT_LOAD, straddling the
 * end of the file data). */
static int elf_locate(struct mz_kdump *k, uint64_t kvaddr, size_t n, uint64_t *fo)
{
	uint64_t off = kvaddr & (k->psize - 1), pa;
	addrxlat_fulladdr_t fa = { kvaddr - off, ADDRXLAT_KVADDR };
	const struct elf_seg *s;

	if (addrxlat_fulladdr_conv(&fa, ADDRXLAT_MACHPHYSADDR, k->axctx, k->axsys) !=
	    ADDRXLAT_OK)
		return -1;
	pa = fa.addr + off;
	s = seg_of(k, pa, n);
	if (!s)
		return -1;
	if (pa - s->paddr + n <= s->filesz) {
		*fo = s->off + (pa - s->paddr);
		return 1;
	}
	return pa - s->paddr >= s->filesz ? 0 : -1;
}

/* A read of an ELF vmcore, copied from the mapping page by page.  Returns
 * -1 when something is not plainly in the file; the caller then reads
 * through libkdumpfile, whose answer (and error) stands. */
static int elf_read(struct mz_kdump *k, uint64_t kvaddr, unsigned char *p, size_t len)
{
	uint64_t lo = UINT64_MAX, hi = 0, fo;
	size_t total = len;

	while (len) {
		size_t n = k->psize - (kvaddr & (k->psize - 1));
		int where;

		n = n < len ? n : len;
		where = elf_locate(k, kvaddr, n, &fo);
		if (where < 0)
			return -1;
		if (where) {
			memcpy(p, k->map + fo, n);
			lo = fo < lo ? fo : lo;
			hi = fo + n > hi ? fo + n : hi;
		} else {
			memset(p, 0, n);
		}
		p += n;
		kvaddr += n;
		len -= n;
	}
	if (total >= MZ_VIEW_RELEASE && hi > lo && hi - lo <= 4 * (uint64_t)total)
		release(k, lo, hi - lo);
	return 0;
}

const void *mz_kdump_view(void *arg, uint64_t kvaddr, size_t len)
{
	struct mz_kdump *k = arg;
	uint64_t first = 0, next = 0, fo, va = kvaddr;
	size_t left = len;

	if (!k->map || !len)
		return NULL;
	/* In place only where every page is in the file, one after another. */
	while (left) {
		size_t n = k->psize - (va & (k->psize - 1));

		n = n < left ? n : left;
		if (elf_locate(k, va, n, &fo) != 1 || (va != kvaddr && fo != next))
			return NULL;
		if (va == kvaddr)
			first = fo;
		next = fo + n;
		va += n;
		left -= n;
	}
	if (len >= MZ_VIEW_RELEASE) {
		release(k, k->held, k->held_len);
		k->held = first;
		k->held_len = len;
	}
	return k->map + first;
}

/* A libkdumpfile context on fd; *st says whether it is usable. */
static kdump_ctx_t *new_ctx(int fd, kdump_status *st)
{
	kdump_ctx_t *ctx = kdump_new();

	if (!ctx)
		return NULL;
	/* libkdumpfile looks a page up in its cache by a linear walk of the
	 * entries, and a memmap scan misses on every new page: with the
	 * default 1024 entries the walk is a third of the CPU time.  The
	 * scan's working set is the page-table pages and the page being
	 * read; MZ_KDUMP_CACHE_PAGES keeps them and makes a miss cheap. */
	*st = kdump_set_number_attr(ctx, "cache.size", MZ_KDUMP_CACHE_PAGES);
	if (*st == KDUMP_OK)
		*st = kdump_open_fd(ctx, fd);
	if (*st == KDUMP_OK)
		/* Translate kernel addresses through the kernel's own page
		 * tables, as drgn does: the dump's VMCOREINFO names them. */
		*st = kdump_set_string_attr(ctx, KDUMP_ATTR_OSTYPE, "linux");
	return ctx;
}

struct mz_kdump *mz_kdump_open(const char *path, char *err, size_t errlen)
{
	struct mz_kdump *k = calloc(1, sizeof(*k));
	kdump_status st;

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (k->fd < 0) {
		snprintf(err, errlen, "%s: cannot open", path);
		free(k);
		return NULL;
	}
	k->ctx = new_ctx(k->fd, &st);
	if (!k->ctx || st != KDUMP_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 k->ctx ? kdump_get_err(k->ctx) : "kdump_new failed");
		goto fail;
	}
	elf_map(k);
	return k;
fail:
	if (k->ctx)
		kdump_free(k->ctx);
	close(k->fd);
	free(k);
	return NULL;
}

void mz_kdump_close(struct mz_kdump *k)
{
	if (!k)
		return;
	if (k->map)
		munmap((void *)k->map, k->map_len);
	free(k->seg);
	kdump_free(k->ctx);
	close(k->fd);
	free(k);
}

static int fresh_ctx(struct mz_kdump *k);

int mz_kdump_read(void *arg, uint64_t kvaddr, void *buf, size_t len)
{
	struct mz_kdump *k = arg;
	unsigned char *p = buf;

	if (k->map && !elf_read(k, kvaddr, buf, len))
		return 0;
	/* kdump_read may stop at a page it cannot read: then the whole read
	 * fails, as drgn's reads do. */
	while (len) {
		size_t n = len;
		kdump_status st = kdump_read(k->ctx, KDUMP_KVADDR, kvaddr, p, &n);

		if (st != KDUMP_OK && st != KDUMP_ERR_NODATA && k->failed && !k->map &&
		    fresh_ctx(k)) {
			/* A page that is in the file failed after earlier failed
			 * reads: libkdumpfile 0.5.1's context was poisoned by them
			 * ("Decompresion failed: error -2" on present pages of
			 * -d 31 dumps, 29 memmap reads of one 6.12 walk).  A fresh
			 * context reads it. */
			n = len;
			st = kdump_read(k->ctx, KDUMP_KVADDR, kvaddr, p, &n);
		}
		if (st != KDUMP_OK || !n) {
			k->failed = 1;
			/* Worded as drgn words its FaultError. */
			snprintf(k->err, sizeof(k->err),
				 "could not read memory from kdump: %s: 0x%llx",
				 st != KDUMP_OK ? kdump_get_err(k->ctx) : "short read",
				 (unsigned long long)kvaddr);
			return -1;
		}
		p += n;
		kvaddr += n;
		len -= n;
	}
	return 0;
}

/* Replace the context by a fresh one on the same file; 0 if none could be
 * made (the old one is kept).  Compressed files only: an ELF mapping's
 * addrxlat context reads page tables through the context it came from. */
static int fresh_ctx(struct mz_kdump *k)
{
	kdump_status st;
	kdump_ctx_t *ctx = new_ctx(k->fd, &st);

	if (!ctx)
		return 0;
	if (st != KDUMP_OK) {
		kdump_free(ctx);
		return 0;
	}
	kdump_free(k->ctx);
	k->ctx = ctx;
	k->reopened++;
	return 1;
}

int mz_kdump_failed(const struct mz_kdump *k)
{
	return k->failed;
}

const char *mz_kdump_errmsg(void *arg)
{
	return ((struct mz_kdump *)arg)->err;
}
