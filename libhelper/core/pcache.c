/* Per-thread page cache for small reads: see pcache.h. */
#include <stdlib.h>
#include <string.h>
#include "pcache.h"

int mz_pcache_init(struct mz_pcache *c)
{
	memset(c, 0, sizeof(*c));
	return 0;
}

void mz_pcache_free(struct mz_pcache *c)
{
	free(c->data);
	c->data = NULL;
}

const unsigned char *mz_pcache_peek(struct mz_pcache *c, const struct mz_reader *rd,
				    uint64_t pgaddr)
{
	size_t slot = (pgaddr >> MZ_PC_SHIFT) % MZ_PC_SLOTS;
	const unsigned char *v;

	if (c->tag[slot] == (pgaddr | 1))
		return c->at[slot];
	if (!rd->view || !(v = rd->view(rd->arg, pgaddr, MZ_PC_PAGE)))
		return NULL;
	c->tag[slot] = pgaddr | 1;
	c->at[slot] = v;
	return v;
}

/* The page at pgaddr: cached, viewed, else read into the slot's copy. */
static const unsigned char *page(struct mz_pcache *c, const struct mz_reader *rd,
				 uint64_t pgaddr)
{
	size_t slot = (pgaddr >> MZ_PC_SHIFT) % MZ_PC_SLOTS;
	const unsigned char *v;
	unsigned char *d;

	if (c->tag[slot] == (pgaddr | 1))
		return c->at[slot];
	c->reads++;
	if ((v = mz_pcache_peek(c, rd, pgaddr))) {
		c->bytes += MZ_PC_PAGE;
		return v;
	}
	c->tag[slot] = 0;
	/* Allocated here: a scan whose reader has views never needs it, and
	 * a fresh megabyte costs a page fault per page touched. */
	if (!c->data && !(c->data = malloc((size_t)MZ_PC_SLOTS * MZ_PC_PAGE)))
		return NULL;
	d = c->data + slot * MZ_PC_PAGE;
	if (rd->read(rd->arg, pgaddr, d, MZ_PC_PAGE))
		return NULL;
	c->bytes += MZ_PC_PAGE;
	c->tag[slot] = pgaddr | 1;
	c->at[slot] = d;
	return d;
}

const unsigned char *mz_pcache_view(struct mz_pcache *c, const struct mz_reader *rd,
				    uint64_t addr, size_t len)
{
	uint64_t pg = addr & ~(uint64_t)(MZ_PC_PAGE - 1);
	const unsigned char *d;

	if (!len || addr - pg + len > MZ_PC_PAGE || pg + MZ_PC_PAGE < pg)
		return NULL;
	d = page(c, rd, pg);
	return d ? d + (addr - pg) : NULL;
}

int mz_pcache_read(struct mz_pcache *c, const struct mz_reader *rd,
		   uint64_t addr, void *buf, size_t len)
{
	unsigned char *out = buf;

	if (len > 2 * MZ_PC_PAGE)
		return -1;
	while (len) {
		uint64_t pg = addr & ~(uint64_t)(MZ_PC_PAGE - 1);
		size_t off = addr - pg;
		size_t n = MZ_PC_PAGE - off < len ? MZ_PC_PAGE - off : len;
		const unsigned char *d;

		if (pg + MZ_PC_PAGE < pg)	/* wraps: not a kernel page */
			return -1;
		d = page(c, rd, pg);
		if (!d)
			return -1;
		memcpy(out, d + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
