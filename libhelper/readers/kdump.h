/* A reader for kdump-compressed and ELF vmcores on libkdumpfile.
 *
 * Each reader is a fully independent context with its own open file:
 * contexts made by kdump_clone() share one cache and one file and do not
 * scale (1.12x on 2 threads), independent ones do (1.87x).  Use one per
 * scan thread.
 *
 * ELF files are copied from a mapping of the file, each page translated
 * with libkdumpfile's addrxlat (the kernel's page tables, as kdump_read
 * does), and large reads' pages unmapped again: libkdumpfile's own read
 * keeps every page it mapped, so a memmap scan's RSS grew by the memmap
 * (+1.6% of the guest's RAM: 376 against 253 MiB on an 8 GiB guest), at the
 * same speed.  Anything not plainly in the file is read by kdump_read.
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
/* mz_view_fn: ELF vmcores only, the bytes in place in the file's mapping. */
const void *mz_kdump_view(void *k, uint64_t kvaddr, size_t len);
/* Whether a read through libkdumpfile ever failed: libkdumpfile 0.5.1's
 * context is then not to be used again once the scan ends (measured on
 * makedumpfile -d 31 dumps: reused after failed reads, later reads of
 * present pages fail to inflate, "error -2", or crash). */
int mz_kdump_failed(const struct mz_kdump *k);
/* The message of the last failed read. */
const char *mz_kdump_errmsg(void *k);

#endif /* MZ_KDUMP_READER_H */
