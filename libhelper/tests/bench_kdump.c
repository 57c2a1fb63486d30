/* Times mz_kdump_read alone (no scan, no Python): N threads, each with its
 * own reader, taking 1 MiB chunks of the memmap from a shared counter (as
 * mz_scan does), or interleaved (thread i takes chunks i, i+N, ...).
 *
 *   make -C libhelper bench-reader
 *   build/bench_kdump VMCORE BASE PSIZE LO HI [THREADS] [interleave|counter]
 *
 * BASE is the vmemmap address, PSIZE sizeof(struct page), [LO, HI) the PFNs
 * (scan.layout(prog).vmemmap, .page_size and scan.memmap_ranges(prog)).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../readers/kdump.h"

#define CHUNK (1u << 20)

static const char *path;
static uint64_t base, lo_addr, hi_addr, nchunks;
static size_t next_chunk;
static int nthreads, interleave;

struct th { struct mz_kdump *k; int id; uint64_t bytes, fails; double secs; };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct th *t = arg;
	unsigned char *buf = malloc(CHUNK);
	double t0 = now();
	uint64_t i = t->id;

	for (;;) {
		uint64_t a, len;

		if (!interleave)
			i = __atomic_fetch_add(&next_chunk, 1, __ATOMIC_RELAXED);
		if (i >= nchunks)
			break;
		a = lo_addr + i * CHUNK;
		len = hi_addr - a < CHUNK ? hi_addr - a : CHUNK;
		if (mz_kdump_read(t->k, a, buf, len))
			t->fails++;
		else
			t->bytes += len;
		if (interleave)
			i += nthreads;
	}
	t->secs = now() - t0;
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct th th[64];
	pthread_t tid[64];
	uint64_t psize, lo, hi, bytes = 0, fails = 0;
	double t0, dt;
	int i;
	char err[512];

	if (argc < 6) {
		fprintf(stderr, "usage: %s VMCORE BASE PSIZE LO HI [THREADS] [interleave|counter]\n", argv[0]);
		return 2;
	}
	path = argv[1];
	base = strtoull(argv[2], NULL, 0);
	psize = strtoull(argv[3], NULL, 0);
	lo = strtoull(argv[4], NULL, 0);
	hi = strtoull(argv[5], NULL, 0);
	nthreads = argc > 6 ? atoi(argv[6]) : 1;
	interleave = argc > 7 && !strcmp(argv[7], "interleave");
	if (nthreads < 1 || nthreads > 64)
		return 2;
	lo_addr = base + lo * psize;
	hi_addr = base + hi * psize;
	nchunks = (hi_addr - lo_addr + CHUNK - 1) / CHUNK;
	t0 = now();
	for (i = 0; i < nthreads; i++) {
		th[i].k = mz_kdump_open(path, err, sizeof(err));
		th[i].id = i;
		th[i].bytes = th[i].fails = 0;
		if (!th[i].k) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	}
	fprintf(stderr, "open: %.3f s\n", now() - t0);
	t0 = now();
	for (i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, run, &th[i]);
	for (i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		bytes += th[i].bytes;
		fails += th[i].fails;
	}
	dt = now() - t0;
	for (i = 0; i < nthreads; i++)
		fprintf(stderr, "  thread %d: %.1f MiB in %.2f s\n", i, th[i].bytes / 1048576.0, th[i].secs);
	printf("threads %d: %.1f MiB in %.3f s = %.0f MB/s, %.2f M pages/s, %llu failed chunks\n",
	       nthreads, bytes / 1048576.0, dt, bytes / dt / 1e6, (hi - lo) / dt / 1e6,
	       (unsigned long long)fails);
	for (i = 0; i < nthreads; i++)
		mz_kdump_close(th[i].k);
	return 0;
}
