/* The read interface the core scans through: a drgn Program, a
 * libkdumpfile context, crash's readmem, or a test buffer. */
#ifndef MZ_READER_H
#define MZ_READER_H

#include <stddef.h>
#include <stdint.h>

/* Reads len bytes at kernel virtual address kvaddr; 0 on success.  On
 * failure, errmsg (if set) gives the reason of the last failed read.  One
 * reader per thread: a reader is never called from two threads at once. */
typedef int (*mz_read_fn)(void *arg, uint64_t kvaddr, void *buf, size_t len);

/* Optional: the len bytes at kvaddr in place, where the reader holds them
 * in memory (an ELF vmcore's mapping), valid while the reader is open;
 * NULL when it does not (then read them).  Scanning in place saves a copy
 * of everything scanned.  A view of MZ_VIEW_RELEASE bytes or more is
 * released (unmapped from the process again) by the next such view. */
typedef const void *(*mz_view_fn)(void *arg, uint64_t kvaddr, size_t len);
#define MZ_VIEW_RELEASE (64u << 10)

struct mz_reader {
	mz_read_fn read;
	const char *(*errmsg)(void *arg);
	void *arg;
	mz_view_fn view;	/* optional */
};

#endif /* MZ_READER_H */
