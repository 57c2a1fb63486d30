/* A reader for kdump-compressed (and ELF) vmcores on libkdumpfile.
 *
 * Each reader is a fully independent context with its own open file:
 * contexts made by kdump_clone() share one cache and one file and do not
 * scale (1.12x on 2 threads), independent ones do (1.87x).  Use one per
 * scan thread.
 */
#ifndef MZ_KDUMP_READER_H
#define MZ_KDUMP_READER_H

#include <stddef.h>
#include <stdint.h>

struct mz_kdump;

/* Pages in each reader's libkdumpfile cache (its default is 1024). */
#ifndef MZ_KDUMP_CACHE_PAGES
#define MZ_KDUMP_CACHE_PAGES 64
#endif

/* Opens 'path' with kernel-virtual translation from the dump's own
 * VMCOREINFO and page tables (addrxlat.ostype = linux).  NULL on failure,
 * with a message in err[0..errlen). */
struct mz_kdump *mz_kdump_open(const char *path, char *err, size_t errlen);
void mz_kdump_close(struct mz_kdump *k);

/* mz_read_fn: reads len bytes at a kernel virtual address; 0 on success. */
int mz_kdump_read(void *k, uint64_t kvaddr, void *buf, size_t len);
/* The message of the last failed read. */
const char *mz_kdump_errmsg(void *k);

#endif /* MZ_KDUMP_READER_H */
