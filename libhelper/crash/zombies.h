/* Shared between the zombies crash extension's sources (zombies.c, the
 * command; pinners.c, sockets, per-CPU charge stock and BPF maps).  Include
 * after crash's defs.h.  Everything here is hidden: the extension is loaded
 * into crash, whose own symbols must not be interposed. */
#ifndef MZ_CRASH_ZOMBIES_H
#define MZ_CRASH_ZOMBIES_H

#include <stddef.h>

#define MZC_HIDDEN __attribute__((visibility("hidden")))

/* zombies.c: reads (RETURN_ON_ERROR|QUIET; a failure is counted as a fault
 * and returns 0), member offsets (-1 when absent, anonymous members too),
 * the dying memcgs, possible CPUs. */
MZC_HIDDEN void mzc_fault(const char *what, ulong addr);
MZC_HIDDEN int mzc_read(ulong addr, void *buf, long len, const char *what);
MZC_HIDDEN long mzc_moff(const char *s, const char *m);
MZC_HIDDEN long mzc_zombie(ulong memcg);	/* index of a dying memcg or -1 */
MZC_HIDDEN int mzc_cpu_possible(int cpu);

/* pinners.c: pins that are kernel objects, not pages. */
enum { X_SOCKET, X_STOCK, X_BPF, X_NKIND };

struct xpin {
	int kind;
	ulong addr;		/* struct sock, struct bpf_map, memcg_stock_pcp */
	int cpu;		/* stock: the CPU */
	int via_objcg;		/* charged through an objcg: no css reference */
	long css_refs;
	long bytes;		/* socket: skmem; stock: pre-charged bytes */
	char what[192];		/* "TCP 127.0.0.1:7777 (LISTEN)", "bpf map 3 name" */
	struct xpin *next;
};

struct xpins {
	ulong n[X_NKIND];	/* sockets, stock slots, bpf maps */
	long css_refs;
	struct xpin *head, *tail;
};

/* Summary labels: "socket", "stock", "bpf_map" (the drgn pin kinds). */
extern MZC_HIDDEN const char *const mzc_xkind[X_NKIND];

/* Sockets, stock slots and BPF maps of the nz dying memcgs (indexes as
 * mzc_zombie() returns them); NULL when memory ran out. */
MZC_HIDDEN struct xpins *mzc_xpins(size_t nz);
MZC_HIDDEN void mzc_xpins_free(struct xpins *x, size_t nz);

#endif
