/* The memmap scanner: PFN ranges in, scan/model.py's PageScan aggregates out. */
#ifndef MZ_SCAN_H
#define MZ_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "agg.h"
#include "classify.h"
#include "layout.h"
#include "reader.h"

/* Sizes of a read, then of its retries after a failure (scan/python_engine.py's
 * CHUNK_BYTES and _RETRY_BYTES). */
#define MZ_CHUNK_BYTES (1u << 20)
#define MZ_RETRY1_BYTES (1u << 16)
#define MZ_RETRY2_BYTES (1u << 12)
/* An object vector larger than this is corrupt: not read. */
#define MZ_MAX_VECTOR_BYTES (64u << 20)

struct mz_range {
	uint64_t lo, hi;	/* PFNs [lo, hi) */
};

enum mz_fault_kind { MZ_FAULT_HEAD, MZ_FAULT_VECTOR, MZ_FAULT_MEMMAP, MZ_FAULT_CACHE };

/* A failed read, in scan order (range, pfn). */
struct mz_fault {
	uint32_t kind;		/* enum mz_fault_kind */
	uint32_t range;
	uint64_t pfn;		/* page being scanned; MEMMAP: first pfn */
	uint64_t hi;		/* MEMMAP: end pfn */
	uint64_t addr;		/* HEAD: head; VECTOR: vector; CACHE: kmem_cache;
				 * slab page in 'slab' */
	uint64_t slab;
	char *msg;		/* reader's message, malloc'd */
};

struct mz_result {
	struct mz_tab by_owner;		/* (owner, class, 0) -> n[0] pages */
	struct mz_tab folios;		/* (owner, class, 0) -> n[0] folios */
	/* (owner, mapping, 0) -> pages, dirty, writeback, folios; tag = class */
	struct mz_tab by_mapping;
	struct mz_tab slab_objects;	/* (objcg, cache, 0) -> objects */
	uint64_t slabs_with_vector;
	uint64_t pages_scanned;
	uint64_t reads;			/* read calls (memmap, heads, vectors) */
	uint64_t bytes_read;
	struct mz_fault *faults;	/* sorted by (range, pfn) after mz_scan */
	size_t nfaults, faults_cap;
};

struct mz_scan_opts {
	const uint64_t *owners;	/* owners of interest (0 = uncharged) */
	size_t nowners;
	int all_owners;		/* 1: every owner is of interest (owners=None) */
	int nthreads;
};

int mz_result_init(struct mz_result *r);
void mz_result_free(struct mz_result *r);

/* Scans the struct pages of every PFN range (vmemmap at 'base') with
 * opts->nthreads threads, thread i reading through readers[i].  Returns 0,
 * or -1 when memory ran out or the layout is invalid; failed reads are
 * faults, never errors. */
int mz_scan(const struct mz_layout *l, uint64_t base,
	    const struct mz_reader *readers, const struct mz_range *ranges,
	    size_t nranges, const struct mz_scan_opts *opts,
	    struct mz_result *res);

/* Counts the objcgs of one slab's object vector ('n' elements 'stride'
 * bytes apart in vec[0..len)) into res->slab_objects (key objcg, cache).
 * Exposed for the unit tests and the fuzzer. */
int mz_slab_vector_count(const unsigned char *vec, size_t len, uint64_t n,
			 uint64_t stride, uint64_t cache, struct mz_tab *slab);

/* The object count and vector stride of the slab whose struct page
 * starts at 'page'. */
uint64_t mz_slab_nobj(const struct mz_layout *l, const unsigned char *page);
uint64_t mz_slab_stride(const struct mz_layout *l, const unsigned char *page);
/* A bit of the slab's struct page (0 when MZ_NONE). */
int mz_slab_bit(const unsigned char *page, uint32_t bit);

#endif /* MZ_SCAN_H */
