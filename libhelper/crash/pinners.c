/* Pins of dying memcgs that are kernel objects, for the zombies crash
 * extension: sockets, the per-CPU charge stock and BPF maps.  Ports of
 * the drgn visitors analyzers/memcg_zombies/pinners/sockets.py, stock.py and bpf.py, with
 * the same semantics (which objects are found, how many css references
 * each holds), reading through crash's readmem (RETURN_ON_ERROR|QUIET,
 * failures counted) and taking offsets from crash's type information.
 *
 * - sockets: TCP sockets in the hash tables of every inet_hashinfo
 *   (tcp_hashinfo, and per-netns ehash tables since v6.1): ehash
 *   (established, accepted) and the listening hash (listening_hash[] before
 *   v5.19, lhash2 after); then sockets of any family held by a task's open
 *   files (its fd table).  sk->sk_memcg holds one css reference (css_tryget
 *   in mem_cgroup_sk_alloc).  Timewait and request socks have no sk_memcg.
 * - stock: memcg_stock per CPU; a cached memcg holds one css reference, a
 *   cached objcg (v5.9+) an objcg reference only.
 * - bpf maps: map_idr; map->memcg (v5.11-v5.19) holds a css reference,
 *   map->objcg (by v6.1) an objcg reference only.
 */
#include "defs.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/agg.h"
#include "zombies.h"

#define MAX_CHAIN (1ul << 16)	/* sockets per hash chain (sockets.py) */
#define MAX_FDS (1u << 20)	/* fds per task (sockets.py) */
#define MAX_TASKS (1ul << 22)	/* thread groups (sockets.py) */
#define MAX_BUCKETS (1ul << 26)	/* buckets per table */
#define MAX_NETS (1ul << 16)	/* network namespaces */
#define MAX_MAPS (1ul << 20)	/* bpf maps (bpf.py) */
#define MAX_XA_NODES (1ul << 20)
#define MAX_XA_DEPTH 16
#define CHUNK (1ul << 16)	/* bytes of bucket array read at once */

MZC_HIDDEN const char *const mzc_xkind[X_NKIND] = { "socket", "stock", "bpf_map" };

/* include/net/tcp_states.h, unchanged since v2.6 */
static const char *const tcp_state[] = {
	"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	"NEW_SYN_RECV"
};
#define TCP_TIME_WAIT_ 6
#define TCP_LISTEN_ 10
#define TCP_NEW_SYN_RECV_ 12

static struct xpins *X;
static size_t NZ;

static struct xpin *add(long z, int kind)
{
	struct xpin *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->kind = kind;
	if (X[z].tail)
		X[z].tail->next = p;
	else
		X[z].head = p;
	X[z].tail = p;
	X[z].n[kind]++;
	return p;
}

static int rd_ulong(ulong addr, ulong *v, const char *what)
{
	return mzc_read(addr, v, sizeof(*v), what);
}

static int rd_uint(ulong addr, uint *v, const char *what)
{
	return mzc_read(addr, v, sizeof(*v), what);
}

/* A little-endian unsigned of size bytes at p. */
static ulong uval(const unsigned char *p, long size)
{
	ulong v = 0;
	long i;

	for (i = size < (long)sizeof(ulong) ? size : (long)sizeof(ulong); i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* -- sockets ---------------------------------------------------------------------- */

static struct {
	long sk_common, nulls_node, state, family, num, dport, rcv_saddr, daddr,
	     v6_rcv_saddr, v6_daddr, common_size, memcg, forward_alloc, backlog,
	     wmem_queued;
	long ehash, ehash_mask, listening_hash, listening_size, lhash2, lhash2_mask,
	     ebucket_size, ebucket_chain, lbucket_size, lbucket_head;
	long prot, prot_name, sk_type, sk_type_size;	/* sockets found through files */
	long tasks, task_files, files_fdt, fdt_max_fds, fdt_fd, f_op, private_data, socket_sk;
} S;

static int sock_offsets(void)
{
	S.memcg = mzc_moff("sock", "sk_memcg");
	S.sk_common = mzc_moff("sock", "__sk_common");
	S.nulls_node = mzc_moff("sock_common", "skc_nulls_node");
	S.state = mzc_moff("sock_common", "skc_state");
	S.family = mzc_moff("sock_common", "skc_family");
	S.num = mzc_moff("sock_common", "skc_num");
	S.dport = mzc_moff("sock_common", "skc_dport");
	S.rcv_saddr = mzc_moff("sock_common", "skc_rcv_saddr");
	S.daddr = mzc_moff("sock_common", "skc_daddr");
	S.v6_rcv_saddr = mzc_moff("sock_common", "skc_v6_rcv_saddr");	/* CONFIG_IPV6 */
	S.v6_daddr = mzc_moff("sock_common", "skc_v6_daddr");
	S.common_size = STRUCT_SIZE("sock_common");
	S.forward_alloc = mzc_moff("sock", "sk_forward_alloc");
	/* sk_rmem_alloc is #define sk_backlog.rmem_alloc, its first member */
	S.backlog = mzc_moff("sock", "sk_backlog");
	S.wmem_queued = mzc_moff("sock", "sk_wmem_queued");
	S.ehash = mzc_moff("inet_hashinfo", "ehash");
	S.ehash_mask = mzc_moff("inet_hashinfo", "ehash_mask");
	S.listening_hash = mzc_moff("inet_hashinfo", "listening_hash");
	S.listening_size = S.listening_hash >= 0 ?
		MEMBER_SIZE("inet_hashinfo", "listening_hash") : 0;
	S.lhash2 = mzc_moff("inet_hashinfo", "lhash2");
	S.lhash2_mask = mzc_moff("inet_hashinfo", "lhash2_mask");
	S.ebucket_size = STRUCT_SIZE("inet_ehash_bucket");
	S.ebucket_chain = mzc_moff("inet_ehash_bucket", "chain");
	S.lbucket_size = STRUCT_SIZE("inet_listen_hashbucket");
	/* Both bucket kinds start a chain with one pointer (hlist_head or
	 * hlist_nulls_head); TCP links sk_nulls_node, at sk_node's offset. */
	S.lbucket_head = mzc_moff("inet_listen_hashbucket", "nulls_head");
	if (S.lbucket_head < 0)
		S.lbucket_head = mzc_moff("inet_listen_hashbucket", "head");
	S.prot = mzc_moff("sock_common", "skc_prot");
	S.prot_name = mzc_moff("proto", "name");
	/* sk_type: a u16 since v5.6 (bdabad3e363d), a bitfield before (no
	 * offset: such sockets are described without their type). */
	S.sk_type = mzc_moff("sock", "sk_type");
	S.sk_type_size = S.sk_type >= 0 ? MEMBER_SIZE("sock", "sk_type") : 0;
	S.tasks = mzc_moff("task_struct", "tasks");
	S.task_files = mzc_moff("task_struct", "files");
	S.files_fdt = mzc_moff("files_struct", "fdt");
	S.fdt_max_fds = mzc_moff("fdtable", "max_fds");
	S.fdt_fd = mzc_moff("fdtable", "fd");
	S.f_op = mzc_moff("file", "f_op");
	S.private_data = mzc_moff("file", "private_data");
	S.socket_sk = mzc_moff("socket", "sk");
	return S.memcg >= 0 && S.sk_common >= 0 && S.nulls_node >= 0 && S.state >= 0 &&
	       S.family >= 0 && S.num >= 0 && S.dport >= 0 && S.rcv_saddr >= 0 &&
	       S.daddr >= 0 && S.common_size > 0 && S.common_size <= 512 && S.ehash >= 0 && S.ehash_mask >= 0 &&
	       S.ebucket_size > 0 && S.ebucket_chain >= 0;
}

static void addr_str(const unsigned char *common, int v6, long off6, long off4, char *out,
		     size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	if (v6 && off6 >= 0) {
		if (!inet_ntop(AF_INET6, common + off6, buf, sizeof(buf)))
			strcpy(buf, "?");
		snprintf(out, len, "[%s]", buf);
	} else {
		if (!inet_ntop(AF_INET, common + off4, buf, sizeof(buf)))
			strcpy(buf, "?");
		snprintf(out, len, "%s", buf);
	}
}

/* "TCP 127.0.0.1:7777 -> 127.0.0.1:44748 (ESTABLISHED)", as sockets.py */
static void describe(const unsigned char *common, int state, char *out, size_t len)
{
	int v6 = uval(common + S.family, 2) == AF_INET6;
	char local[64], remote[64], name[32];

	if (state > 0 && state < (int)(sizeof(tcp_state) / sizeof(*tcp_state)))
		snprintf(name, sizeof(name), "%s", tcp_state[state]);
	else
		snprintf(name, sizeof(name), "state %d", state);
	addr_str(common, v6, S.v6_rcv_saddr, S.rcv_saddr, local, sizeof(local));
	if (state == TCP_LISTEN_) {
		snprintf(out, len, "TCP %s:%lu (%s)", local, uval(common + S.num, 2), name);
		return;
	}
	addr_str(common, v6, S.v6_daddr, S.daddr, remote, sizeof(remote));
	snprintf(out, len, "TCP %s:%lu -> %s:%u (%s)", local, uval(common + S.num, 2), remote,
		 ntohs((uint16_t)uval(common + S.dport, 2)), name);
}

static const char *const sock_type[] = { "type 0", "stream", "dgram", "raw", "rdm",
					  "seqpacket" };

/* A socket found through a file: "UDP 127.0.0.1:7778", "UNIX stream socket",
 * as sockets.py's _describe_other. */
static int describe_other(ulong sk, const unsigned char *common, char *out, size_t len)
{
	int family = (int)uval(common + S.family, 2), v6 = family == AF_INET6;
	char proto[32] = "", local[64], remote[64];
	ulong prot;
	uint16_t type = 0;

	if (S.prot < 0 || S.prot_name < 0)
		return 0;
	prot = uval(common + S.prot, sizeof(ulong));
	if (!prot || !mzc_read(prot + S.prot_name, proto, sizeof(proto) - 1, "proto.name"))
		return 0;
	if (!strcmp(proto, "TCP") || !strcmp(proto, "TCPv6"))
		return 0;	/* TCP: described by its state */
	if (family == AF_INET || family == AF_INET6) {
		ulong dport = ntohs((uint16_t)uval(common + S.dport, 2));

		addr_str(common, v6, S.v6_rcv_saddr, S.rcv_saddr, local, sizeof(local));
		if (!dport) {
			snprintf(out, len, "%s %s:%lu", proto, local, uval(common + S.num, 2));
			return 1;
		}
		addr_str(common, v6, S.v6_daddr, S.daddr, remote, sizeof(remote));
		snprintf(out, len, "%s %s:%lu -> %s:%lu", proto, local, uval(common + S.num, 2),
			 remote, dport);
		return 1;
	}
	if (S.sk_type >= 0 && S.sk_type_size == 2)
		readmem(sk + S.sk_type, KVADDR, &type, 2, "sk_type", RETURN_ON_ERROR | QUIET);
	if (type < sizeof(sock_type) / sizeof(*sock_type) && strcasestr(proto, sock_type[type]))
		snprintf(out, len, "%s socket", proto);	/* "UNIX-STREAM" (v5.15+) */
	else if (type < sizeof(sock_type) / sizeof(*sock_type))
		snprintf(out, len, "%s %s socket", proto, sock_type[type]);
	else
		snprintf(out, len, "%s type %u socket", proto, type);
	return 1;
}

static void visit_sock(ulong sk, struct mz_tab *socks)
{
	unsigned char common[512];
	ulong memcg;
	long z, bytes = 0;
	int state, v;
	struct xpin *p;

	if (mz_tab_find(socks, sk, 0, 0))
		return;
	mz_tab_at(socks, sk, 0, 0, 0);
	if (!mzc_read(sk + S.sk_common, common, S.common_size, "sock_common"))
		return;
	state = common[S.state];
	/* Timewait and request socks are not full sockets: no sk_memcg. */
	if (state == TCP_TIME_WAIT_ || state == TCP_NEW_SYN_RECV_)
		return;
	if (!rd_ulong(sk + S.memcg, &memcg, "sock.sk_memcg"))
		return;
	/* low bits: flags since v6.18 (SK_MEMCG_SOCK_ISOLATED) */
	if ((z = mzc_zombie(memcg & ~3ul)) < 0)
		return;
	if (!(p = add(z, X_SOCKET)))
		return;
	p->addr = sk;
	p->css_refs = 1;
	if (!describe_other(sk, common, p->what, sizeof(p->what)))
		describe(common, state, p->what, sizeof(p->what));
	/* skmem: forward_alloc + rmem_alloc + wmem_queued, what can be read */
	if (S.forward_alloc >= 0 && readmem(sk + S.forward_alloc, KVADDR, &v, sizeof(v),
					    "sk_forward_alloc", RETURN_ON_ERROR | QUIET))
		bytes += v;
	if (S.backlog >= 0 && readmem(sk + S.backlog, KVADDR, &v, sizeof(v),
				      "sk_rmem_alloc", RETURN_ON_ERROR | QUIET))
		bytes += v;
	if (S.wmem_queued >= 0 && readmem(sk + S.wmem_queued, KVADDR, &v, sizeof(v),
					  "sk_wmem_queued", RETURN_ON_ERROR | QUIET))
		bytes += v;
	p->bytes = bytes > 0 ? bytes : 0;
	X[z].css_refs += 1;
}

/* An hlist or hlist_nulls chain: ends at NULL or a nulls marker (bit 0). */
static void walk_chain(ulong pos, const char *where, struct mz_tab *socks)
{
	struct mz_tab seen;
	ulong next, n = 0;

	if (!pos || (pos & 1))
		return;
	if (mz_tab_init(&seen, 16))
		return;
	while (pos && !(pos & 1)) {
		if (mz_tab_find(&seen, pos, 0, 0) || n++ >= MAX_CHAIN) {
			mzc_fault(where, pos);	/* cycle or too long */
			break;
		}
		mz_tab_at(&seen, pos, 0, 0, 0);
		if (!rd_ulong(pos, &next, where))	/* hlist_nulls_node.next */
			break;
		visit_sock(pos - S.sk_common - S.nulls_node, socks);
		pos = next;
	}
	mz_tab_free(&seen);
}

/* count buckets of stride bytes from base; the chain pointer at offset */
static void walk_table(ulong base, ulong count, long stride, long offset, const char *where,
		       struct mz_tab *socks)
{
	ulong per = CHUNK / stride ? CHUNK / stride : 1, first, i, n;
	unsigned char *buf;

	if (!base || stride <= 0 || offset < 0)
		return;
	if (count > MAX_BUCKETS)
		count = MAX_BUCKETS;
	if (!(buf = malloc(per * stride)))
		return;
	for (first = 0; first < count; first += per) {
		n = count - first < per ? count - first : per;
		if (!mzc_read(base + first * stride, buf, n * stride, where))
			continue;
		for (i = 0; i < n; i++) {
			ulong head;

			memcpy(&head, buf + i * stride + offset, sizeof(head));
			walk_chain(head, where, socks);
		}
	}
	free(buf);
}

static void walk_hashinfo(ulong hi, struct mz_tab *socks)
{
	ulong ehash, lhash2;
	uint mask;

	if (rd_ulong(hi + S.ehash, &ehash, "inet_hashinfo.ehash") &&
	    rd_uint(hi + S.ehash_mask, &mask, "inet_hashinfo.ehash_mask"))
		walk_table(ehash, (ulong)mask + 1, S.ebucket_size, S.ebucket_chain,
			   "inet_hashinfo.ehash", socks);
	if (S.lbucket_size <= 0 || S.lbucket_head < 0)
		return;
	if (S.listening_hash >= 0)	/* before v5.19, cae3873c5b3a */
		walk_table(hi + S.listening_hash, S.listening_size / S.lbucket_size,
			   S.lbucket_size, S.lbucket_head, "inet_hashinfo.listening_hash", socks);
	else if (S.lhash2 >= 0 && S.lhash2_mask >= 0 &&
		 rd_ulong(hi + S.lhash2, &lhash2, "inet_hashinfo.lhash2") && lhash2 &&
		 rd_uint(hi + S.lhash2_mask, &mask, "inet_hashinfo.lhash2_mask"))
		walk_table(lhash2, (ulong)mask + 1, S.lbucket_size, S.lbucket_head,
			   "inet_hashinfo.lhash2", socks);
}

/* One task's fd table: the sockets among its files. */
static void task_fds(ulong files, struct mz_tab *socks, ulong fops)
{
	ulong fdt, fdarr, *fds, j;
	uint max;

	if (!rd_ulong(files + S.files_fdt, &fdt, "files_struct.fdt") ||
	    !rd_uint(fdt + S.fdt_max_fds, &max, "fdtable.max_fds") ||
	    !rd_ulong(fdt + S.fdt_fd, &fdarr, "fdtable.fd"))
		return;
	if (max > MAX_FDS)
		max = MAX_FDS;
	fds = malloc(max * sizeof(ulong));
	if (!fds)
		return;
	if (mzc_read(fdarr, fds, max * sizeof(ulong), "fdtable.fd[]"))
		for (j = 0; j < max; j++) {
			ulong op, sock, sk;

			if (fds[j] && rd_ulong(fds[j] + S.f_op, &op, "file.f_op") && op == fops &&
			    rd_ulong(fds[j] + S.private_data, &sock, "file.private_data") && sock &&
			    rd_ulong(sock + S.socket_sk, &sk, "socket.sk") && sk)
				visit_sock(sk, socks);
		}
	free(fds);
}

/* Sockets held by open files: the fd table of every thread group on
 * init_task.tasks (walked here, as sockets.py does: crash's own task table
 * can be empty when it cannot read the CPUs' stacks), a file being a socket
 * when its f_op is socket_file_ops; a table shared by tasks is read once. */
static void walk_task_files(struct mz_tab *socks)
{
	ulong head, pos, nxt, files, n = 0;
	struct mz_tab tables;

	if (!kernel_symbol_exists("socket_file_ops") || !kernel_symbol_exists("init_task") ||
	    S.tasks < 0 || S.task_files < 0 || S.files_fdt < 0 || S.fdt_max_fds < 0 ||
	    S.fdt_fd < 0 || S.f_op < 0 || S.private_data < 0 || S.socket_sk < 0 ||
	    mz_tab_init(&tables, 256))
		return;
	head = symbol_value("init_task") + S.tasks;
	if (rd_ulong(head, &pos, "init_task.tasks"))
		while (pos != head && pos) {
			if (n++ >= MAX_TASKS) {
				mzc_fault("init_task.tasks too long", pos);
				break;
			}
			if (!rd_ulong(pos, &nxt, "task_struct.tasks"))
				break;
			if (rd_ulong(pos - S.tasks + S.task_files, &files, "task_struct.files") &&
			    files && !mz_tab_find(&tables, files, 0, 0)) {
				mz_tab_at(&tables, files, 0, 0, 0);
				task_fds(files, socks, symbol_value("socket_file_ops"));
			}
			pos = nxt;
		}
	mz_tab_free(&tables);
}

/* Every inet_hashinfo: tcp_hashinfo, then net->ipv4.tcp_death_row.hashinfo
 * of each namespace (per-netns ehash, v6.1 d1e5e6408b30). */
static void socket_pins(void)
{
	struct mz_tab his, socks;
	ulong head, pos, nxt, n = 0, hi;
	long net_list, net_ipv4, dr, dr_hashinfo;
	size_t i;

	if (!sock_offsets() || !kernel_symbol_exists("tcp_hashinfo"))
		return;		/* !CONFIG_MEMCG or !CONFIG_INET */
	if (mz_tab_init(&his, 16))
		return;
	if (mz_tab_init(&socks, 1024)) {
		mz_tab_free(&his);
		return;
	}
	mz_tab_at(&his, symbol_value("tcp_hashinfo"), 0, 0, 0);
	net_list = mzc_moff("net", "list");
	net_ipv4 = mzc_moff("net", "ipv4");
	dr = mzc_moff("netns_ipv4", "tcp_death_row");
	dr_hashinfo = mzc_moff("inet_timewait_death_row", "hashinfo");
	if (kernel_symbol_exists("net_namespace_list") && net_list >= 0 && net_ipv4 >= 0 &&
	    dr >= 0 && dr_hashinfo >= 0) {
		/* tcp_death_row: a struct, a pointer in v5.19-v6.0 */
		int ptr = MEMBER_TYPE("netns_ipv4", "tcp_death_row") == TYPE_CODE_PTR;

		head = symbol_value("net_namespace_list");
		if (rd_ulong(head, &pos, "net_namespace_list"))
			while (pos != head && pos) {
				ulong net = pos - net_list, row = net + net_ipv4 + dr;

				if (n++ >= MAX_NETS) {
					mzc_fault("net_namespace_list too long", pos);
					break;
				}
				if (!rd_ulong(pos, &nxt, "net.list"))
					break;
				if ((!ptr || rd_ulong(row, &row, "tcp_death_row")) && row &&
				    rd_ulong(row + dr_hashinfo, &hi, "tcp_death_row.hashinfo") &&
				    hi && !mz_tab_find(&his, hi, 0, 0))
					mz_tab_at(&his, hi, 0, 0, 0);
				pos = nxt;
			}
	}
	/* tcp_hashinfo first, as sockets.py */
	walk_hashinfo(symbol_value("tcp_hashinfo"), &socks);
	for (i = 0; i < his.cap; i++)
		if (his.e[i].used && his.e[i].k[0] != symbol_value("tcp_hashinfo"))
			walk_hashinfo(his.e[i].k[0], &socks);
	/* then sockets of every family held by files, as sockets.py */
	walk_task_files(&socks);
	mz_tab_free(&socks);
	mz_tab_free(&his);
}

/* -- the per-CPU charge stock --------------------------------------------------------- */

/* One (memcg or objcg pointer, amount) array pair in a per-CPU struct:
 * scalars (one slot) or arrays (cached[NR_MEMCG_STOCK], by v6.19). */
struct slots {
	long cached, cached_size, nr, nr_size;
	int objcg;		/* the pointers are objcgs, the amounts bytes */
};

static int slots_of(const char *s, const char *cached, const char *nr, int objcg,
		    struct slots *o)
{
	o->cached = mzc_moff(s, cached);
	o->nr = mzc_moff(s, nr);
	if (o->cached < 0 || o->nr < 0)
		return 0;
	o->cached_size = MEMBER_SIZE((char *)s, (char *)cached);
	o->nr_size = MEMBER_SIZE((char *)s, (char *)nr);
	o->objcg = objcg;
	return o->cached_size >= (long)sizeof(ulong) && o->nr_size > 0;
}

struct slot {
	ulong memcg;
	int objcg;
	long bytes;
};

/* Slots of one per-CPU struct read into buf: 0 when an objcg is unreadable
 * (the whole CPU is skipped, as stock.py does). */
static int read_slots(const unsigned char *buf, long base, const struct slots *s,
		      struct slot *out, int *n, int max, long objcg_memcg)
{
	long k, count = s->cached_size / sizeof(ulong), esize = s->nr_size / count;

	for (k = 0; k < count && *n < max; k++) {
		ulong ptr, amount = uval(buf + base + s->nr + k * esize, esize), memcg;

		memcpy(&ptr, buf + base + s->cached + k * sizeof(ulong), sizeof(ptr));
		if (!ptr)
			continue;
		memcg = ptr;
		if (s->objcg && (objcg_memcg < 0 ||
				 !rd_ulong(ptr + objcg_memcg, &memcg, "obj_cgroup.memcg")))
			return 0;
		out[*n].memcg = memcg;
		out[*n].objcg = s->objcg;
		out[*n].bytes = s->objcg ? (long)amount : (long)(amount * PAGESIZE());
		(*n)++;
	}
	return 1;
}

static void stock_pins(void)
{
	struct slots mem, obj[2];
	long size, objsize = 0, objcg_memcg = mzc_moff("obj_cgroup", "memcg");
	long task = -1, irq = -1;
	int nobj = 0, array, cpu, i;
	ulong stock, objstock = 0;
	unsigned char *buf, *objbuf = NULL;

	if (!STRUCT_EXISTS("memcg_stock_pcp") || !kernel_symbol_exists("memcg_stock"))
		return;		/* !CONFIG_MEMCG */
	stock = symbol_value("memcg_stock");
	size = STRUCT_SIZE("memcg_stock_pcp");
	if (size <= 0 || !slots_of("memcg_stock_pcp", "cached", "nr_pages", 0, &mem))
		return;
	array = MEMBER_TYPE("memcg_stock_pcp", "cached") == TYPE_CODE_ARRAY;
	if (array) {
		/* by v6.19: objcgs in a separate per-CPU obj_stock_pcp */
		if (kernel_symbol_exists("obj_stock") &&
		    (objsize = STRUCT_SIZE("obj_stock_pcp")) > 0 &&
		    slots_of("obj_stock_pcp", "cached", "nr_bytes", 1, &obj[0])) {
			objstock = symbol_value("obj_stock");
			nobj = 1;
		}
	} else if ((task = mzc_moff("memcg_stock_pcp", "task_obj")) >= 0 &&
		   (irq = mzc_moff("memcg_stock_pcp", "irq_obj")) >= 0) {
		/* v5.14-v5.19: task_obj and irq_obj struct obj_stock */
		if (slots_of("obj_stock", "cached_objcg", "nr_bytes", 1, &obj[0])) {
			obj[1] = obj[0];
			obj[0].cached += task, obj[0].nr += task;
			obj[1].cached += irq, obj[1].nr += irq;
			nobj = 2;
		}
	} else if (slots_of("memcg_stock_pcp", "cached_objcg", "nr_bytes", 1, &obj[0])) {
		nobj = 1;	/* v5.9+ */
	}
	if (!(buf = malloc(size)) || (objsize > 0 && !(objbuf = malloc(objsize)))) {
		free(buf);
		return;
	}
	for (cpu = 0; cpu < NR_CPUS; cpu++) {
		struct slot sl[64];
		int n = 0, ok = 1;

		if (!mzc_cpu_possible(cpu))
			continue;
		if (!mzc_read(stock + kt->__per_cpu_offset[cpu], buf, size, "memcg_stock"))
			continue;
		ok = read_slots(buf, 0, &mem, sl, &n, 64, objcg_memcg);
		for (i = 0; ok && i < nobj; i++) {
			if (objbuf)
				ok = mzc_read(objstock + kt->__per_cpu_offset[cpu], objbuf, objsize,
					      "obj_stock") &&
				     read_slots(objbuf, 0, &obj[i], sl, &n, 64, objcg_memcg);
			else
				ok = read_slots(buf, 0, &obj[i], sl, &n, 64, objcg_memcg);
		}
		if (!ok)
			continue;
		for (i = 0; i < n; i++) {
			long z = mzc_zombie(sl[i].memcg);
			struct xpin *p;

			if (z < 0 || !(p = add(z, X_STOCK)))
				continue;
			p->addr = stock + kt->__per_cpu_offset[cpu];
			p->cpu = cpu;
			p->via_objcg = sl[i].objcg;
			p->css_refs = !sl[i].objcg;
			p->bytes = sl[i].bytes;
			snprintf(p->what, sizeof(p->what), "CPU %d %s", cpu,
				 sl[i].objcg ? "objcg" : "memcg");
			X[z].css_refs += p->css_refs;
		}
	}
	free(objbuf);
	free(buf);
}

/* -- BPF maps ------------------------------------------------------------------------- */

static struct {
	long owner, objcg, id, name, name_size, objcg_memcg, slots, shift, nslots;
	ulong maps, nodes;
} B;

static void visit_map(ulong map)
{
	ulong ptr, memcg;
	uint id;
	char name[64];
	long z;
	struct xpin *p;

	if (!rd_ulong(map + B.owner, &ptr, "bpf_map.objcg") || !ptr)
		return;
	memcg = ptr;
	if (B.objcg && (B.objcg_memcg < 0 ||
			!rd_ulong(ptr + B.objcg_memcg, &memcg, "obj_cgroup.memcg")))
		return;
	if ((z = mzc_zombie(memcg)) < 0 || !(p = add(z, X_BPF)))
		return;
	p->addr = map;
	p->via_objcg = B.objcg;
	p->css_refs = !B.objcg;
	X[z].css_refs += p->css_refs;
	memset(name, 0, sizeof(name));
	if (B.id >= 0 && B.name >= 0 && B.name_size > 0 && B.name_size < (long)sizeof(name) &&
	    readmem(map + B.id, KVADDR, &id, sizeof(id), "bpf_map.id", RETURN_ON_ERROR | QUIET) &&
	    readmem(map + B.name, KVADDR, name, B.name_size, "bpf_map.name",
		    RETURN_ON_ERROR | QUIET)) {
		size_t l;

		name[B.name_size] = 0;
		snprintf(p->what, sizeof(p->what), "bpf map %u %s", id, name);
		for (l = strlen(p->what); l && p->what[l - 1] == ' '; l--)
			p->what[l - 1] = 0;
	} else {
		snprintf(p->what, sizeof(p->what), "bpf map %#lx", map);
	}
}

/* An xarray entry (idr_for_each): nodes are tagged 2, other internal
 * entries (siblings, retry) and value entries are skipped. */
static void xa_walk(ulong entry, int depth)
{
	ulong slots[256];
	unsigned char shift;
	long i;

	if (!entry || B.maps >= MAX_MAPS)
		return;
	if ((entry & 3) == 2 && entry > 4096) {
		ulong node = entry - 2;

		if (depth >= MAX_XA_DEPTH || B.nodes++ >= MAX_XA_NODES) {
			mzc_fault("map_idr: xarray too deep or too large", node);
			return;
		}
		if (!mzc_read(node + B.shift, &shift, 1, "xa_node.shift") ||
		    !mzc_read(node + B.slots, slots, B.nslots * sizeof(ulong), "xa_node.slots"))
			return;
		for (i = 0; i < B.nslots; i++) {
			if (!slots[i])
				continue;
			if ((slots[i] & 3) == 2 && slots[i] > 4096 && !shift) {
				mzc_fault("map_idr: node below a leaf", node);
				continue;
			}
			xa_walk(slots[i], depth + 1);
		}
		return;
	}
	if ((entry & 3) == 2 || (entry & 1))
		return;		/* internal or value entry */
	B.maps++;
	visit_map(entry);
}

static void bpf_pins(void)
{
	long rt, head;
	ulong root;

	if (!kernel_symbol_exists("map_idr"))
		return;		/* !CONFIG_BPF_SYSCALL */
	memset(&B, 0, sizeof(B));
	/* map->memcg from v5.11 (48edc1f78aab), map->objcg by v6.1 */
	if ((B.owner = mzc_moff("bpf_map", "objcg")) >= 0)
		B.objcg = 1;
	else if ((B.owner = mzc_moff("bpf_map", "memcg")) < 0)
		return;		/* maps not charged to memcgs on this kernel */
	B.id = mzc_moff("bpf_map", "id");
	B.name = mzc_moff("bpf_map", "name");
	B.name_size = B.name >= 0 ? MEMBER_SIZE("bpf_map", "name") : 0;
	B.objcg_memcg = mzc_moff("obj_cgroup", "memcg");
	B.slots = mzc_moff("xa_node", "slots");
	B.shift = mzc_moff("xa_node", "shift");
	rt = mzc_moff("idr", "idr_rt");
	head = mzc_moff("xarray", "xa_head");
	B.nslots = B.slots >= 0 ? MEMBER_SIZE("xa_node", "slots") / (long)sizeof(ulong) : 0;
	if (rt < 0 || head < 0 || B.shift < 0 || B.nslots <= 0 || B.nslots > 256) {
		mzc_fault("map_idr: not an xarray", symbol_value("map_idr"));
		return;
	}
	if (rd_ulong(symbol_value("map_idr") + rt + head, &root, "map_idr"))
		xa_walk(root, 0);
	if (B.maps >= MAX_MAPS)
		mzc_fault("map_idr: more maps than examined", symbol_value("map_idr"));
}

/* -- all of them ---------------------------------------------------------------------- */

MZC_HIDDEN struct xpins *mzc_xpins(size_t nz)
{
	X = calloc(nz + 1, sizeof(*X));
	NZ = nz;
	if (!X || !nz)
		return X;
	socket_pins();
	stock_pins();
	bpf_pins();
	return X;
}

MZC_HIDDEN void mzc_xpins_free(struct xpins *x, size_t nz)
{
	size_t i;

	if (!x)
		return;
	for (i = 0; i < nz; i++)
		while (x[i].head) {
			struct xpin *p = x[i].head;

			x[i].head = p->next;
			free(p);
		}
	free(x);
	if (x == X)
		X = NULL, NZ = 0;
}
