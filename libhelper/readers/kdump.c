/* libkdumpfile reader: see kdump.h for why every reader owns its context. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libkdumpfile/kdumpfile.h>
#include "kdump.h"

struct mz_kdump {
	kdump_ctx_t *ctx;
	int fd;
	char err[512];
};

struct mz_kdump *mz_kdump_open(const char *path, char *err, size_t errlen)
{
	struct mz_kdump *k = calloc(1, sizeof(*k));
	kdump_status st;

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (k->fd < 0) {
		snprintf(err, errlen, "%s: cannot open", path);
		free(k);
		return NULL;
	}
	k->ctx = kdump_new();
	if (!k->ctx) {
		snprintf(err, errlen, "kdump_new failed");
		goto fail;
	}
	/* libkdumpfile looks a page up in its cache by a linear walk of the
	 * entries, and a memmap scan misses on every new page: with the
	 * default 1024 entries the walk is a third of the CPU time.  The
	 * scan's working set is the page-table pages and the page being
	 * read; MZ_KDUMP_CACHE_PAGES keeps them and makes a miss cheap. */
	st = kdump_set_number_attr(k->ctx, "cache.size", MZ_KDUMP_CACHE_PAGES);
	if (st == KDUMP_OK)
		st = kdump_open_fd(k->ctx, k->fd);
	if (st == KDUMP_OK)
		/* Translate kernel addresses through the kernel's own page
		 * tables, as drgn does: the dump's VMCOREINFO names them. */
		st = kdump_set_string_attr(k->ctx, KDUMP_ATTR_OSTYPE, "linux");
	if (st != KDUMP_OK) {
		snprintf(err, errlen, "%s: %s", path, kdump_get_err(k->ctx));
		goto fail;
	}
	return k;
fail:
	if (k->ctx)
		kdump_free(k->ctx);
	close(k->fd);
	free(k);
	return NULL;
}

void mz_kdump_close(struct mz_kdump *k)
{
	if (!k)
		return;
	kdump_free(k->ctx);
	close(k->fd);
	free(k);
}

int mz_kdump_read(void *arg, uint64_t kvaddr, void *buf, size_t len)
{
	struct mz_kdump *k = arg;
	unsigned char *p = buf;

	/* kdump_read may stop at a page it cannot read: then the whole read
	 * fails, as drgn's reads do. */
	while (len) {
		size_t n = len;
		kdump_status st = kdump_read(k->ctx, KDUMP_KVADDR, kvaddr, p, &n);

		if (st != KDUMP_OK || !n) {
			/* Worded as drgn words its FaultError. */
			snprintf(k->err, sizeof(k->err),
				 "could not read memory from kdump: %s: 0x%llx",
				 st != KDUMP_OK ? kdump_get_err(k->ctx) : "short read",
				 (unsigned long long)kvaddr);
			return -1;
		}
		p += n;
		kvaddr += n;
		len -= n;
	}
	return 0;
}

const char *mz_kdump_errmsg(void *arg)
{
	return ((struct mz_kdump *)arg)->err;
}
