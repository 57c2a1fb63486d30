/* Counting table: (k0, k1, k2) -> four counters, open addressing.  Each scan
 * thread has its own tables; they are merged at the end, so no locking. */
#ifndef MZ_AGG_H
#define MZ_AGG_H

#include <stddef.h>
#include <stdint.h>

struct mz_ent {
	uint64_t k[3];
	uint64_t n[4];
	uint32_t tag;		/* set at creation (e.g. a mapping's class) */
	uint32_t used;
};

struct mz_tab {
	struct mz_ent *e;
	size_t cap;		/* power of two */
	size_t len;
	struct mz_ent *last;	/* the last key used: pages come in runs */
};

int mz_tab_init(struct mz_tab *t, size_t cap);
void mz_tab_free(struct mz_tab *t);
/* The counters of a key, created zeroed (tag = tag) when new; NULL when
 * memory ran out. */
uint64_t *mz_tab_at(struct mz_tab *t, uint64_t k0, uint64_t k1, uint64_t k2,
		    uint32_t tag);
/* Adds n to counter 0 of a key; -1 on allocation failure. */
int mz_tab_add(struct mz_tab *t, uint64_t k0, uint64_t k1, uint64_t k2, uint64_t n);
/* The entry of a key, NULL when absent. */
const struct mz_ent *mz_tab_find(const struct mz_tab *t, uint64_t k0,
				 uint64_t k1, uint64_t k2);
int mz_tab_merge(struct mz_tab *dst, const struct mz_tab *src);

/* A set of addresses (owners of interest). */
struct mz_set {
	uint64_t *v;
	size_t cap;
	size_t len;
	int has_zero;
};

int mz_set_init(struct mz_set *s, const uint64_t *vals, size_t n);
void mz_set_free(struct mz_set *s);
int mz_set_has(const struct mz_set *s, uint64_t v);

#endif /* MZ_AGG_H */
