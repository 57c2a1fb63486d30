/* A small per-thread cache of 4 KiB pages in front of a reader, for the
 * scan's small reads: a tail's head struct page, a slab's object vector.
 *
 * Object vectors of neighbouring slabs are kmalloc'd side by side (a
 * dentry slab's vector is 168 bytes: 24 to a page), and every tail of a
 * folio reads the same head.  A read costs a Python call through drgn, or
 * an address translation and a cache search in libkdumpfile, whatever its
 * size: reading the whole page once makes the per-slab cost a lookup.
 * Where the reader has views (reader.h), a slot holds the view: nothing is
 * copied.
 */
#ifndef MZ_PCACHE_H
#define MZ_PCACHE_H

#include "reader.h"

#define MZ_PC_SHIFT 12
#define MZ_PC_PAGE (1u << MZ_PC_SHIFT)
#define MZ_PC_SLOTS 256		/* direct-mapped by page address: 1 MiB */

struct mz_pcache {
	uint64_t tag[MZ_PC_SLOTS];	/* page address | 1; 0: empty */
	const unsigned char *at[MZ_PC_SLOTS];	/* the page: in data, or a view */
	unsigned char *data;		/* MZ_PC_SLOTS pages, allocated when first copied */
	uint64_t reads, bytes;		/* reader calls made, bytes they read */
};

int mz_pcache_init(struct mz_pcache *c);
void mz_pcache_free(struct mz_pcache *c);

/* Copies [addr, addr + len) into buf from cached pages, reading a missing
 * page whole.  Returns -1 when a page does not read whole or len spans
 * more than two pages: the caller then reads exactly what it needs, so
 * the reader's own fault (and message) is what gets reported. */
int mz_pcache_read(struct mz_pcache *c, const struct mz_reader *rd,
		   uint64_t addr, void *buf, size_t len);

/* [addr, addr + len) in place in a cached page, or NULL (it spans two
 * pages, or the page does not read whole): then mz_pcache_read it.  Valid
 * until the next call on 'c'. */
const unsigned char *mz_pcache_view(struct mz_pcache *c, const struct mz_reader *rd,
				    uint64_t addr, size_t len);

/* The page at pgaddr in place, cached or viewed now, never read: NULL
 * when the reader has no view of it.  For touching memory ahead. */
const unsigned char *mz_pcache_peek(struct mz_pcache *c, const struct mz_reader *rd,
				    uint64_t pgaddr);

/* Whether p points into a page the cache copied: its slot is reused by
 * the next miss that maps to it, unlike a view. */
static inline int mz_pcache_owns(const struct mz_pcache *c, const unsigned char *p)
{
	return c->data && p >= c->data && p < c->data + (size_t)MZ_PC_SLOTS * MZ_PC_PAGE;
}

#endif /* MZ_PCACHE_H */
