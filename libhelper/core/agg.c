/* Counting tables and sets for the per-thread aggregates. */
#include <stdlib.h>
#include <string.h>
#include "agg.h"

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	/* splitmix64 finaliser over a simple combination: keys are kernel
	 * addresses whose low bits are mostly zero. */
	uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull) ^ (c * 0xc2b2ae3d27d4eb4full);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

int mz_tab_init(struct mz_tab *t, size_t cap)
{
	size_t c = 16;

	while (c < cap)
		c <<= 1;
	t->e = calloc(c, sizeof(*t->e));
	t->cap = t->e ? c : 0;
	t->len = 0;
	t->last = NULL;
	return t->e ? 0 : -1;
}

void mz_tab_free(struct mz_tab *t)
{
	free(t->e);
	t->e = NULL;
	t->last = NULL;
	t->cap = t->len = 0;
}

static struct mz_ent *slot(struct mz_ent *e, size_t cap, uint64_t k0,
			   uint64_t k1, uint64_t k2)
{
	size_t i = mix(k0, k1, k2) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct mz_ent *s = &e[i];

		if (!s->used || (s->k[0] == k0 && s->k[1] == k1 && s->k[2] == k2))
			return s;
	}
}

static int grow(struct mz_tab *t)
{
	size_t ncap = t->cap * 2, i;
	struct mz_ent *ne = calloc(ncap, sizeof(*ne));

	if (!ne)
		return -1;
	for (i = 0; i < t->cap; i++) {
		struct mz_ent *o = &t->e[i];

		if (o->used)
			*slot(ne, ncap, o->k[0], o->k[1], o->k[2]) = *o;
	}
	free(t->e);
	t->e = ne;
	t->cap = ncap;
	t->last = NULL;
	return 0;
}

uint64_t *mz_tab_at(struct mz_tab *t, uint64_t k0, uint64_t k1, uint64_t k2,
		    uint32_t tag)
{
	struct mz_ent *s = t->last;

	if (s && s->k[0] == k0 && s->k[1] == k1 && s->k[2] == k2)
		return s->n;
	if ((t->len + 1) * 2 > t->cap && grow(t))
		return NULL;
	s = slot(t->e, t->cap, k0, k1, k2);
	t->last = s;
	if (!s->used) {
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->k[0] = k0;
		s->k[1] = k1;
		s->k[2] = k2;
		s->tag = tag;
		t->len++;
	}
	return s->n;
}

int mz_tab_add(struct mz_tab *t, uint64_t k0, uint64_t k1, uint64_t k2, uint64_t n)
{
	uint64_t *c = mz_tab_at(t, k0, k1, k2, 0);

	if (!c)
		return -1;
	c[0] += n;
	return 0;
}

const struct mz_ent *mz_tab_find(const struct mz_tab *t, uint64_t k0,
				 uint64_t k1, uint64_t k2)
{
	const struct mz_ent *s;

	if (!t->cap)
		return NULL;
	s = slot(t->e, t->cap, k0, k1, k2);
	return s->used ? s : NULL;
}

int mz_tab_merge(struct mz_tab *dst, const struct mz_tab *src)
{
	size_t i;
	int j;

	for (i = 0; i < src->cap; i++) {
		const struct mz_ent *s = &src->e[i];
		uint64_t *c;

		if (!s->used)
			continue;
		c = mz_tab_at(dst, s->k[0], s->k[1], s->k[2], s->tag);
		if (!c)
			return -1;
		for (j = 0; j < 4; j++)
			c[j] += s->n[j];
	}
	return 0;
}

int mz_set_init(struct mz_set *s, const uint64_t *vals, size_t n)
{
	size_t c = 16, i;

	while (c < 2 * n + 2)
		c <<= 1;
	/* 0 marks an empty slot; owner 0 is has_zero. */
	s->v = calloc(c, sizeof(*s->v));
	if (!s->v)
		return -1;
	s->cap = c;
	s->len = 0;
	s->has_zero = 0;
	for (i = 0; i < n; i++) {
		size_t j = mix(vals[i], 0, 0) & (c - 1);

		if (!vals[i]) {
			s->has_zero = 1;	/* owner 0: uncharged pages */
			continue;
		}
		while (s->v[j] && s->v[j] != vals[i])
			j = (j + 1) & (c - 1);
		if (!s->v[j]) {
			s->v[j] = vals[i];
			s->len++;
		}
	}
	return 0;
}

void mz_set_free(struct mz_set *s)
{
	free(s->v);
	s->v = NULL;
}

int mz_set_has(const struct mz_set *s, uint64_t v)
{
	size_t j;

	if (!v)
		return s->has_zero;
	if (!s->len)
		return 0;
	j = mix(v, 0, 0) & (s->cap - 1);
	while (s->v[j]) {
		if (s->v[j] == v)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}
