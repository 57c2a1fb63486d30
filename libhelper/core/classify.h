/* Classifying one struct page from its raw fields (scan.py _Decoder twin). */
#ifndef MZ_CLASSIFY_H
#define MZ_CLASSIFY_H

#include <stdint.h>
#include <string.h>
#include "layout.h"

/* Page classes, in the order of scan.py's CLASSES (the bindings' ABI). */
enum mz_class {
	MZ_FREE = 0, MZ_SLAB, MZ_FILE, MZ_SHMEM, MZ_ANON, MZ_SWAPCACHE,
	MZ_KMEM, MZ_OTHER, MZ_NCLASS
};

const char *mz_class_name(unsigned cls);

/* The four words of a page that decide its class. */
struct mz_fields {
	uint64_t flags, tword, mapping, memcg;
};

static inline uint64_t mz_u64(const unsigned char *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline void mz_fields_of(const struct mz_layout *l,
				const unsigned char *page, struct mz_fields *f)
{
	f->flags = mz_u64(page, l->off_flags);
	f->tword = mz_u64(page, l->off_type);
	f->mapping = mz_u64(page, l->off_mapping);
	f->memcg = mz_u64(page, l->off_memcg);
}

int mz_is_type(const struct mz_layout *l, uint32_t ptype, uint32_t value);
/* Class of a head (or order-0) page. */
unsigned mz_classify(const struct mz_layout *l, const struct mz_fields *f);
/* The owner counted for a page of class cls: memcg/objcg address or 0. */
uint64_t mz_owner(const struct mz_layout *l, unsigned cls, uint64_t memcg);
/* Head address of a tail page at addr whose compound word is info. */
uint64_t mz_tail_head(const struct mz_layout *l, uint64_t addr, uint64_t info);

#endif /* MZ_CLASSIFY_H */
