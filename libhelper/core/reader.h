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

struct mz_reader {
	mz_read_fn read;
	const char *(*errmsg)(void *arg);
	void *arg;
};

#endif /* MZ_READER_H */
