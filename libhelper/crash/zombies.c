/* zombies: a crash extension listing dying ("zombie") memory cgroups and
 * what pins them, on the same C core as memcg-zombies' page scan
 * (libhelper/core).  The answers are those of the drgn analyzer
 * (analyzers/memcg_zombies/cgroups.py, percpu_ref.py, pinners/pages.py, children.py):
 *
 * - memcgs: css.children/sibling from root_mem_cgroup->css, bounded and
 *   cycle-checked (offline css stay on their parent's list until released);
 *   dying = neither CSS_ONLINE nor CSS_RELEASED;
 * - css refcount: exact percpu_ref count (atomic count once DEAD|ATOMIC and
 *   the switch is confirmed; count - PERCPU_COUNT_BIAS + per-CPU sum
 *   otherwise);
 * - pages: one memmap scan by the core (mz_scan) through crash's readmem(),
 *   with the layout descriptor filled from crash's type information;
 *   owners resolved memcg -> zombie, or objcg -> objcg->memcg (reparented
 *   objcgs whose creator is known are shown, but hold no css ref);
 * - child css, memcg id references (swap entries), cgroup writeback;
 * - sockets, the per-CPU charge stock and BPF maps (pinners.c;
 *   pinners/sockets.py, stock.py, bpf.py).
 *
 * Everything is read with RETURN_ON_ERROR|QUIET: what cannot be read is
 * counted as a fault and the command goes on.
 *
 * Build: make -C libhelper crash   (needs Debian's crash package headers)
 * Use:   crash> extend /path/to/zombies.so
 *        crash> zombies            crash> zombies -p /mz/tmpfs/leaf
 */
#include "defs.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "../core/agg.h"
#include "../core/classify.h"
#include "../core/layout.h"
#include "../core/scan.h"
#include "zombies.h"

#define MAX_MEMCGS (1u << 20)	/* list steps per walk (cgroups.py) */
#define MAX_DEPTH 4096		/* kernfs / dentry nesting */
#define MAX_LIST 100000		/* objcg_list, cgwb lists */
#define NAME_LEN 256

void zombies_init(void) __attribute__((constructor));
void zombies_fini(void) __attribute__((destructor));
static void cmd_zombies(void);

/* -- faults ---------------------------------------------------------------- */

static unsigned long nfaults;
static char first_fault[160];

static void fault(const char *what, ulong addr)
{
	if (!nfaults++)
		snprintf(first_fault, sizeof(first_fault), "%s at %lx", what, addr);
}

static int rd(ulong addr, void *buf, long len, const char *what)
{
	if (!addr || !readmem(addr, KVADDR, buf, len, (char *)what,
			      RETURN_ON_ERROR | QUIET)) {
		fault(what, addr);
		return 0;
	}
	return 1;
}

static int rd_ulong(ulong addr, ulong *v, const char *what)
{
	return rd(addr, v, sizeof(*v), what);
}

static int rd_uint(ulong addr, uint *v, const char *what)
{
	return rd(addr, v, sizeof(*v), what);
}

MZC_HIDDEN void mzc_fault(const char *what, ulong addr)
{
	fault(what, addr);
}

MZC_HIDDEN int mzc_read(ulong addr, void *buf, long len, const char *what)
{
	return rd(addr, buf, len, what);
}

MZC_HIDDEN int mzc_cpu_possible(int cpu)
{
	/* get_cpus_possible() looks the mask's type up through gdb each call
	 * (milliseconds): ask once per session, not once per CPU of NR_CPUS. */
	static int have_map = -1;

	if (have_map < 0)
		have_map = get_cpus_possible() > 0;
	return have_map ? in_cpu_map(POSSIBLE_MAP, cpu) : cpu < kt->cpus;
}

/* -- type information --------------------------------------------------------- */

/* Offsets asked for again (per zombie, per socket) come from this cache: each
 * crash type lookup is a gdb symbol search, milliseconds each, and a missing
 * member is the slowest of all. */
static struct { const char *s, *m; long o; } moff_cache[512];
static int moff_used;

static long moff(const char *s, const char *m)
{
	long o;
	int i;

	for (i = 0; i < moff_used; i++)
		if (!strcmp(moff_cache[i].s, s) && !strcmp(moff_cache[i].m, m))
			return moff_cache[i].o;
	o = MEMBER_OFFSET((char *)s, (char *)m);
	if (o < 0)
		o = ANON_MEMBER_OFFSET((char *)s, (char *)m);
	if (moff_used < (int)(sizeof(moff_cache) / sizeof(moff_cache[0]))) {
		moff_cache[moff_used].s = strdup(s);
		moff_cache[moff_used].m = strdup(m);
		moff_cache[moff_used++].o = o;
	}
	return o;
}

MZC_HIDDEN long mzc_moff(const char *s, const char *m)
{
	return moff(s, m);
}

static int enumval(const char *name, long *v)
{
	return enumerator_value((char *)name, v);
}

/* Bit offset and width of a (possibly bit-field, possibly anonymous) member. */
static int member_bits(const char *s, const char *m, ulong *bit, ulong *width)
{
	struct struct_member_data d;

	/* fill_struct_member_data() leaves crash's secondary tmpfile open
	 * when the member does not exist: ask only about existing ones. */
	if (moff(s, m) < 0)
		return 0;
	memset(&d, 0, sizeof(d));
	d.structure = (char *)s;
	d.member = (char *)m;
	if (fill_struct_member_data(&d) && d.bitsize > 0) {
		*bit = d.offset * 8 + d.bitpos;
		*width = d.bitsize;
		return 1;
	}
	return 0;
}

static struct {
	int ready;
	/* css / cgroup / kernfs */
	long memcg_css, css_cgroup, css_refcnt, css_parent, css_sibling, css_children,
	     css_flags, cgrp_kn, kn_parent, kn_name, kn_id, kn_id_size;
	long CSS_ONLINE, CSS_RELEASED;
	/* percpu_ref */
	long ref_ptr, ref_data, ref_count, ref_confirm, data_count, data_confirm;
	/* objcgs, memcg id, writeback */
	long memcg_objcg, memcg_orig_objcg, memcg_objcg_list, objcg_memcg, objcg_list;
	/* v7.1 (the LRU-to-objcg reparenting series: objcgs per memcg per node,
	 * layout/reparent.py): the same three in mem_cgroup_per_node */
	long memcg_nodeinfo, pn_objcg, pn_orig_objcg, pn_objcg_list;
	long memcg_id, id_ref;
	long wb_memcg_css, wb_bdi_node, wb_offline_node, bdi_wb_list, bdi_bdi_list;
	/* inodes and dentries, for per-file page cache */
	long as_host, inode_ino, inode_sb, sb_type, fst_name, inode_dentry,
	     dentry_alias, dentry_parent, dentry_name, qstr_name;
	/* era facts (analyzers/memcg_zombies/layout/) */
	int kmem_css_refs_per_page;	/* 1 while kmem pages name a memcg */
	int lru_css_unit;		/* 0 none (objcg), 1 page, 2 folio */
	ulong page_size;
	struct mz_layout l;
	char lay_err[128];
} K;

static int init_layout(void)
{
	struct mz_layout *l = &K.l;
	long v, nr, po_type, po_ref, nr_obj;
	const char *memcg_m, *comp_m, *st;
	ulong bit, width;

	mz_layout_init(l);
	K.lay_err[0] = 0;
	K.page_size = PAGESIZE();
	{
		long psize = STRUCT_SIZE("page"), of, om, omc, oc;

		/* page->mem_cgroup became memcg_data in v5.11 (bcfe06bf2622) */
		memcg_m = moff("page", "memcg_data") >= 0 ? "memcg_data" : "mem_cgroup";
		/* compound_head renamed compound_info in v7.1 (d50569612c29) */
		comp_m = moff("page", "compound_info") >= 0 ? "compound_info" : "compound_head";
		of = moff("page", "flags");
		om = moff("page", "mapping");
		omc = moff("page", memcg_m);
		oc = moff("page", comp_m);
		po_type = moff("page", "page_type");
		if (po_type < 0)
			po_type = moff("page", "_mapcount");
		po_ref = moff("page", "_refcount");
		if (psize <= 0 || of < 0 || om < 0 || omc < 0 || oc < 0 || po_type < 0 ||
		    po_ref < 0 || po_type / 8 != po_ref / 8) {
			snprintf(K.lay_err, sizeof(K.lay_err),
				 "struct page lacks a member the scan needs");
			return 0;
		}
		l->psize = psize;
		l->off_flags = of;
		l->off_mapping = om;
		l->off_memcg = omc;
		l->off_comp = oc;
	}
	l->off_type = (po_type / 8) * 8;
	l->type_shift = (po_type % 8) * 8;
	l->ref_shift = (po_ref % 8) * 8;
#define PGBIT(name, dst) do { if (enumval(#name, &v)) (dst) = 1ull << v; } while (0)
	PGBIT(PG_head, l->PG_head);
	PGBIT(PG_dirty, l->PG_dirty);
	PGBIT(PG_writeback, l->PG_writeback);
	PGBIT(PG_swapbacked, l->PG_swapbacked);
	PGBIT(PG_swapcache, l->PG_swapcache);
	if (!l->PG_swapcache)
		PGBIT(PG_owner_priv_1, l->PG_swapcache);
	l->PG_slab = 0;
	PGBIT(PG_slab, l->PG_slab);	/* a page type since v6.10 */
#undef PGBIT
	/* page types: top byte (enum pagetype, v6.12) or cleared bits */
	if (enumval("PGTY_buddy", &v)) {
		l->top_byte = 1;
		l->type_buddy = v;
		if (enumval("PGTY_slab", &v))
			l->type_slab = v;
	} else {
		l->top_byte = 0;
		l->type_buddy = 0x80;
		if (!strcmp(memcg_m, "mem_cgroup"))
			l->type_kmemcg = 0x200;
		if (!l->PG_slab)
			l->type_slab = 0x1000;
	}
	/* memcg_data tag bits (enum page_memcg_data_flags, v5.11) */
	l->vector_bit = 1;
	if (enumval("MEMCG_DATA_OBJEXTS", &v) || enumval("MEMCG_DATA_OBJCGS", &v))
		l->vector_bit = v ? (uint64_t)v : 1;
	l->kmem_bit = enumval("MEMCG_DATA_KMEM", &v) ? (uint64_t)v : 0;
	nr = enumval("__NR_MEMCG_DATA_FLAGS", &v) ? v - 1 : 3;
	l->data_mask = ~(uint64_t)nr;
	nr_obj = enumval("__NR_OBJEXTS_FLAGS", &v) ? v - 1 : 0;
	l->vec_mask = ~(uint64_t)(nr > nr_obj ? nr : nr_obj);
	l->info_mask = !strcmp(comp_m, "compound_info") && !(l->psize & (l->psize - 1)) &&
		       MEMBER_EXISTS("zone", "vmemmap_tails");
	l->fake_heads = !strcmp(comp_m, "compound_head");
	/* slab containers: struct slab overlays struct page since v5.17 */
	st = STRUCT_EXISTS("slab") ? "slab" : "page";
	v = moff(st, "slab_cache");
	l->off_cache = v >= 0 ? (uint32_t)v : MZ_NONE;
	if (member_bits(st, "stride", &bit, &width))
		l->stride_off = bit / 8;
	else if ((v = moff(st, "stride")) >= 0)
		l->stride_off = v;
	if (member_bits(st, "objects", &bit, &width)) {
		l->objects_bit = bit;
		l->objects_width = width;
	} else if ((v = moff(st, "objects")) >= 0) {
		l->objects_bit = v * 8;
		l->objects_width = MEMBER_SIZE((char *)st, "objects") * 8;
	}
	v = STRUCT_SIZE("slabobj_ext");
	l->ext_size = v > 0 ? v : 8;
	if (mz_layout_check(l)) {
		snprintf(K.lay_err, sizeof(K.lay_err), "struct page layout out of bounds");
		return 0;
	}
	/* css refs per charged thing (layout/charge.py): LRU folios hold one css ref
	 * each v5.9..v7.0 (obj_cgroup exists), one per page before, none once
	 * folios name an objcg (v7.1); kmem pages one per page until they
	 * name an objcg (v5.14, obj_cgroup_uncharge_pages). */
	if (MEMBER_EXISTS("obj_cgroup", "is_root") ||
	    MEMBER_EXISTS("mem_cgroup_per_node", "objcg"))
		K.lru_css_unit = 0;
	else
		K.lru_css_unit = STRUCT_EXISTS("obj_cgroup") ? 2 : 1;
	K.kmem_css_refs_per_page = !(!strcmp(memcg_m, "memcg_data") &&
				     kernel_symbol_exists("obj_cgroup_uncharge_pages"));
	return 1;
}

static void init_offsets(void)
{
	long v;

	if (K.ready)
		return;
	K.memcg_css = moff("mem_cgroup", "css");
	K.css_cgroup = moff("cgroup_subsys_state", "cgroup");
	K.css_refcnt = moff("cgroup_subsys_state", "refcnt");
	K.css_parent = moff("cgroup_subsys_state", "parent");
	K.css_sibling = moff("cgroup_subsys_state", "sibling");
	K.css_children = moff("cgroup_subsys_state", "children");
	K.css_flags = moff("cgroup_subsys_state", "flags");
	K.cgrp_kn = moff("cgroup", "kn");
	/* kernfs_node::parent became __parent in v6.15 */
	K.kn_parent = moff("kernfs_node", "__parent");
	if (K.kn_parent < 0)
		K.kn_parent = moff("kernfs_node", "parent");
	K.kn_name = moff("kernfs_node", "name");
	/* kn->id: u64 since v5.5; union kernfs_node_id (id first) before */
	K.kn_id = moff("kernfs_node", "id");
	K.kn_id_size = K.kn_id >= 0 ? MEMBER_SIZE("kernfs_node", "id") : 0;
	if (K.kn_id < 0 && (K.kn_id = moff("kernfs_node", "ino")) >= 0)
		K.kn_id_size = 4;
	K.CSS_ONLINE = enumval("CSS_ONLINE", &v) ? v : 2;
	K.CSS_RELEASED = enumval("CSS_RELEASED", &v) ? v : 4;
	K.ref_ptr = moff("percpu_ref", "percpu_count_ptr");
	/* v5.10, 2b0d3d3e4fcf: struct percpu_ref_data */
	K.ref_data = moff("percpu_ref", "data");
	K.ref_count = moff("percpu_ref", "count");
	K.ref_confirm = moff("percpu_ref", "confirm_switch");
	K.data_count = moff("percpu_ref_data", "count");
	K.data_confirm = moff("percpu_ref_data", "confirm_switch");
	K.memcg_objcg = moff("mem_cgroup", "objcg");
	K.memcg_orig_objcg = moff("mem_cgroup", "orig_objcg");
	K.memcg_objcg_list = moff("mem_cgroup", "objcg_list");
	K.memcg_nodeinfo = moff("mem_cgroup", "nodeinfo");
	K.pn_objcg = moff("mem_cgroup_per_node", "objcg");
	K.pn_orig_objcg = moff("mem_cgroup_per_node", "orig_objcg");
	K.pn_objcg_list = moff("mem_cgroup_per_node", "objcg_list");
	K.objcg_memcg = moff("obj_cgroup", "memcg");
	K.objcg_list = moff("obj_cgroup", "list");
	K.memcg_id = moff("mem_cgroup", "id");
	K.id_ref = MEMBER_OFFSET("mem_cgroup_id", "ref");
	if (K.id_ref < 0)
		K.id_ref = MEMBER_OFFSET("mem_cgroup_private_id", "ref");
	K.wb_memcg_css = moff("bdi_writeback", "memcg_css");
	K.wb_bdi_node = moff("bdi_writeback", "bdi_node");
	K.wb_offline_node = moff("bdi_writeback", "offline_node");
	K.bdi_wb_list = moff("backing_dev_info", "wb_list");
	K.bdi_bdi_list = moff("backing_dev_info", "bdi_list");
	K.as_host = moff("address_space", "host");
	K.inode_ino = moff("inode", "i_ino");
	K.inode_sb = moff("inode", "i_sb");
	K.sb_type = moff("super_block", "s_type");
	K.fst_name = moff("file_system_type", "name");
	K.inode_dentry = moff("inode", "i_dentry");
	K.dentry_alias = moff("dentry", "d_u");	/* d_u.d_alias at d_u's offset */
	if (K.dentry_alias < 0)
		K.dentry_alias = moff("dentry", "d_alias");
	K.dentry_parent = moff("dentry", "d_parent");
	K.dentry_name = moff("dentry", "d_name");
	K.qstr_name = moff("qstr", "name");
	init_layout();
	K.ready = 1;
}

/* -- memcgs ------------------------------------------------------------------- */

struct memcg {
	ulong addr, css, parent_css;
	ulong flags;
	int level;
	int state;		/* 0 online, 1 dying, 2 released, -1 unreadable */
	/* filled for zombies */
	long cgroup_id;		/* -1 unreadable */
	int ref_ok, ref_atomic, ref_dead;
	long refcnt;
	char *path;
};

static struct memcg *memcgs;
static size_t nmemcgs, cap_memcgs;

static const char *state_name(int s)
{
	return s == 0 ? "online" : s == 1 ? "dying" : s == 2 ? "released" : "?";
}

static struct memcg *add_memcg(ulong addr, ulong css, ulong parent, int level)
{
	struct memcg *m;

	if (nmemcgs == cap_memcgs) {
		size_t c = cap_memcgs ? 2 * cap_memcgs : 256;
		struct memcg *n = realloc(memcgs, c * sizeof(*n));

		if (!n)
			return NULL;
		memcgs = n;
		cap_memcgs = c;
	}
	m = &memcgs[nmemcgs++];
	memset(m, 0, sizeof(*m));
	m->addr = addr;
	m->css = css;
	m->parent_css = parent;
	m->level = level;
	m->cgroup_id = -1;
	if (!rd_ulong(css + K.css_flags, &m->flags, "css.flags"))
		m->state = -1;
	else if (m->flags & K.CSS_ONLINE)
		m->state = 0;
	else if (m->flags & K.CSS_RELEASED)
		m->state = 2;
	else
		m->state = 1;
	return m;
}

/* The sibling nodes on css->children: forward from the head, and, when the
 * forward walk breaks, backward from the head's prev (cgroups.py). */
static size_t css_children(ulong css, ulong **out, ulong *budget)
{
	ulong head = css + K.css_children, pos, nxt;
	ulong *v = NULL;
	size_t n = 0, cap = 0, fwd;
	struct mz_tab seen;
	int done = 0, dir;

	*out = NULL;
	if (mz_tab_init(&seen, 64))
		return 0;
	for (dir = 0; dir < 2 && !done; dir++) {
		fwd = n;
		if (!rd_ulong(head + (dir ? sizeof(ulong) : 0), &pos, "css.children"))
			break;
		for (;;) {
			if (pos == head) {
				done = 1;
				break;
			}
			if (!pos || mz_tab_find(&seen, pos, 0, 0) || !*budget)
				break;
			--*budget;
			if (!rd_ulong(pos + (dir ? sizeof(ulong) : 0), &nxt, "css.sibling"))
				break;
			mz_tab_at(&seen, pos, 0, 0, 0);
			if (n == cap) {
				ulong *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

				if (!nv)
					break;
				v = nv;
			}
			v[n++] = pos;
			pos = nxt;
		}
		if (dir) {	/* the backward part, in list order */
			size_t i, j;

			for (i = fwd, j = n ? n - 1 : 0; i < j; i++, j--) {
				ulong t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
		}
	}
	mz_tab_free(&seen);
	*out = v;
	return n;
}

/* Pre-order walk of every memcg from root_mem_cgroup. */
static int walk_memcgs(void)
{
	ulong root, budget = MAX_MEMCGS;
	struct mz_tab seen;
	struct frame { ulong css; ulong *kids; size_t n, i; int level; } *stack = NULL;
	size_t depth = 0, cap = 0;

	nmemcgs = 0;
	if (!kernel_symbol_exists("root_mem_cgroup") ||
	    !rd_ulong(symbol_value("root_mem_cgroup"), &root, "root_mem_cgroup") || !root)
		return 0;
	if (mz_tab_init(&seen, 1024))
		return 0;
	add_memcg(root, root + K.memcg_css, 0, 0);
	mz_tab_at(&seen, root + K.memcg_css, 0, 0, 0);
	stack = malloc(sizeof(*stack) * (cap = 16));
	if (!stack)
		goto out;
	stack[0].css = root + K.memcg_css;
	stack[0].n = css_children(stack[0].css, &stack[0].kids, &budget);
	stack[0].i = 0;
	stack[0].level = 0;
	depth = 1;
	while (depth) {
		struct frame *f = &stack[depth - 1];
		ulong css, parent;

		if (f->i >= f->n) {
			free(f->kids);
			depth--;
			continue;
		}
		css = f->kids[f->i++] - K.css_sibling;
		if (mz_tab_find(&seen, css, 0, 0)) {
			fault("css reached twice", css);
			continue;
		}
		mz_tab_at(&seen, css, 0, 0, 0);
		if (!rd_ulong(css + K.css_parent, &parent, "css.parent"))
			continue;
		if (parent != f->css) {
			fault("css.parent is not the list owner", css);
			continue;
		}
		add_memcg(css - K.memcg_css, css, parent, f->level + 1);
		if (depth == cap) {
			struct frame *ns = realloc(stack, sizeof(*stack) * (cap *= 2));

			if (!ns)
				break;
			stack = ns;
			f = &stack[depth - 1];
		}
		stack[depth].css = css;
		stack[depth].n = css_children(css, &stack[depth].kids, &budget);
		stack[depth].i = 0;
		stack[depth].level = f->level + 1;
		depth++;
	}
	while (depth)
		free(stack[--depth].kids);
out:
	free(stack);
	mz_tab_free(&seen);
	return 1;
}

static char *memcg_path(ulong css)
{
	ulong cgrp, kn, parent, name;
	char *names[MAX_DEPTH];
	int n = 0, i;
	size_t len = 2;
	char *p, buf[NAME_LEN];

	if (!rd_ulong(css + K.css_cgroup, &cgrp, "css.cgroup") ||
	    !rd_ulong(cgrp + K.cgrp_kn, &kn, "cgroup.kn"))
		return NULL;
	for (;;) {
		if (!rd_ulong(kn + K.kn_parent, &parent, "kernfs_node.parent"))
			goto fail;
		if (!parent)
			break;
		if (n >= MAX_DEPTH)
			goto fail;
		if (!rd_ulong(kn + K.kn_name, &name, "kernfs_node.name") ||
		    !read_string(name, buf, sizeof(buf) - 1)) {
			fault("kernfs_node name", name);
			goto fail;
		}
		buf[sizeof(buf) - 1] = 0;
		names[n] = strdup(buf);
		len += strlen(buf) + 1;
		n++;
		kn = parent;
	}
	p = malloc(len);
	if (!p)
		goto fail;
	p[0] = 0;
	for (i = n - 1; i >= 0; i--) {
		strcat(p, "/");
		strcat(p, names[i]);
	}
	if (!n)
		strcpy(p, "/");
	for (i = 0; i < n; i++)
		free(names[i]);
	return p;
fail:
	for (i = 0; i < n; i++)
		free(names[i]);
	return NULL;
}

static long cgroup_id(ulong css)
{
	ulong cgrp, kn, id = 0;

	if (K.kn_id < 0 || !rd_ulong(css + K.css_cgroup, &cgrp, "css.cgroup") ||
	    !rd_ulong(cgrp + K.cgrp_kn, &kn, "cgroup.kn"))
		return -1;
	if (K.kn_id_size == 4) {
		uint v;

		if (!rd_uint(kn + K.kn_id, &v, "kernfs_node.id"))
			return -1;
		return v;
	}
	return rd_ulong(kn + K.kn_id, &id, "kernfs_node.id") ? (long)id : -1;
}

/* percpu_ref_read() of percpu_ref.py, summing the per-CPU counters. */
static void read_ref(struct memcg *m)
{
	ulong ref = m->css + K.css_refcnt, ptr, data, count, confirm, pcp;
	ulong bias = 1ul << (sizeof(ulong) * 8 - 1);
	int cpu, ncpus = 0;

	m->ref_ok = 0;
	if (!rd_ulong(ref + K.ref_ptr, &ptr, "percpu_ref"))
		return;
	m->ref_atomic = ptr & 1;
	m->ref_dead = !!(ptr & 2);
	if (K.ref_data >= 0) {
		if (!rd_ulong(ref + K.ref_data, &data, "percpu_ref.data"))
			return;
		if (!data) {
			if (!ptr)
				return;	/* never initialised (CSS_NO_REF) */
			m->refcnt = (long)ptr >> 2;	/* percpu_ref_exit() folded it */
			m->ref_ok = 1;
			return;
		}
		if (!rd_ulong(data + K.data_count, &count, "percpu_ref_data.count") ||
		    !rd_ulong(data + K.data_confirm, &confirm, "percpu_ref_data.confirm"))
			return;
	} else {
		if (!rd_ulong(ref + K.ref_count, &count, "percpu_ref.count") ||
		    !rd_ulong(ref + K.ref_confirm, &confirm, "percpu_ref.confirm"))
			return;
		if (!(ptr & ~3ul) && m->ref_atomic && m->ref_dead && !confirm) {
			m->refcnt = (long)count;
			m->ref_ok = 1;
			return;
		}
	}
	if (m->ref_atomic && !confirm) {
		m->refcnt = (long)count;
		m->ref_ok = 1;
		return;
	}
	/* per-CPU mode (or switching): count - bias + sum over possible CPUs */
	count -= bias;
	for (cpu = 0; cpu < NR_CPUS; cpu++) {
		if (!mzc_cpu_possible(cpu))
			continue;
		if (!rd_ulong((ptr & ~3ul) + kt->__per_cpu_offset[cpu], &pcp, "percpu count"))
			return;
		count += pcp;
		ncpus++;
	}
	m->refcnt = (long)count;
	m->ref_ok = ncpus > 0;
}

/* -- objcgs: objcg -> (memcg it charges now, memcg it was created for) ---------- */

static struct mz_tab objcgs;	/* (objcg,0,0) -> n[0] now, n[1] orig */
static struct mz_tab zset;	/* (memcg,0,0) -> n[0] index of the zombie + 1 */
static struct mz_tab mset;	/* every memcg */

MZC_HIDDEN long mzc_zombie(ulong memcg)
{
	const struct mz_ent *e = memcg ? mz_tab_find(&zset, memcg, 0, 0) : NULL;

	return e ? (long)e->n[0] - 1 : -1;
}

/* objcg -> (now, orig) for one holder's objcg and orig_objcg fields. */
static void objcg_fields(ulong holder, long objcg_off, long orig_off, ulong memcg)
{
	long fields[2] = { objcg_off, orig_off };
	int f;

	for (f = 0; f < 2; f++) {
		ulong objcg, now = 0;
		uint64_t *c;

		if (fields[f] < 0 || !rd_ulong(holder + fields[f], &objcg, "memcg.objcg") ||
		    !objcg)
			continue;
		rd_ulong(objcg + K.objcg_memcg, &now, "objcg.memcg");
		if ((c = mz_tab_at(&objcgs, objcg, 0, 0, 0))) {
			c[0] = now;
			c[1] = memcg;
		}
	}
}

/* Reparented objcgs of dead descendants sit on an online memcg's objcg_list
 * with ->memcg == that memcg; walked bounded. */
static void objcg_list(ulong head, ulong memcg)
{
	ulong pos, now, nxt;
	size_t steps = 0;

	if (!rd_ulong(head, &pos, "memcg.objcg_list"))
		return;
	while (pos != head && pos && steps++ < MAX_LIST) {
		ulong objcg = pos - K.objcg_list;

		if (!readmem(objcg + K.objcg_memcg, KVADDR, &now, sizeof(now),
			     "objcg.memcg", RETURN_ON_ERROR | QUIET) ||
		    !readmem(pos, KVADDR, &nxt, sizeof(nxt), "objcg.list",
			     RETURN_ON_ERROR | QUIET))
			return;
		if (now == memcg && !mz_tab_find(&objcgs, objcg, 0, 0)) {
			uint64_t *c = mz_tab_at(&objcgs, objcg, 0, 0, 0);

			if (c)
				c[0] = now, c[1] = 0;
		}
		pos = nxt;
	}
}

static void objcg_owners(void)
{
	ulong nr_nodes = 1;
	size_t i;

	if (K.objcg_memcg < 0)
		return;		/* before v5.9: no objcgs */
	if (K.pn_objcg >= 0 && symbol_exists("nr_node_ids"))
		readmem(symbol_value("nr_node_ids"), KVADDR, &nr_nodes, sizeof(int),
			"nr_node_ids", RETURN_ON_ERROR | QUIET);
	nr_nodes = (unsigned int)nr_nodes;
	for (i = 0; i < nmemcgs; i++) {
		struct memcg *m = &memcgs[i];
		ulong n;

		objcg_fields(m->addr, K.memcg_objcg, K.memcg_orig_objcg, m->addr);
		/* A dying memcg's objcg_list head is stale (v5.15+): only
		 * online lists are walked. */
		if (m->state == 0 && K.memcg_objcg_list >= 0 && K.objcg_list >= 0)
			objcg_list(m->addr + K.memcg_objcg_list, m->addr);
		for (n = 0; K.pn_objcg >= 0 && K.memcg_nodeinfo >= 0 && n < nr_nodes; n++) {
			ulong pn;

			if (!rd_ulong(m->addr + K.memcg_nodeinfo + n * sizeof(ulong), &pn,
				      "memcg.nodeinfo") || !pn)
				continue;
			objcg_fields(pn, K.pn_objcg, K.pn_orig_objcg, m->addr);
			if (m->state == 0 && K.pn_objcg_list >= 0 && K.objcg_list >= 0)
				objcg_list(pn + K.pn_objcg_list, m->addr);
		}
	}
}

/* pinners/pages.py owner_of(): which zombie an owner belongs to, whether it
 * still pins it, and via a memcg (1) or an objcg (0).  -1: none. */
static long owner_of(ulong owner, int *pins, int *via_memcg)
{
	const struct mz_ent *e = mz_tab_find(&zset, owner, 0, 0);
	uint64_t now, orig;

	if (e) {
		*pins = 1;
		*via_memcg = 1;
		return (long)e->n[0] - 1;
	}
	*via_memcg = 0;
	e = mz_tab_find(&objcgs, owner, 0, 0);
	if (!e && mz_tab_find(&mset, owner, 0, 0))
		return -1;
	if (!e) {
		/* an objcg no memcg names any more */
		ulong m = 0;
		uint64_t *c;

		if (K.objcg_memcg < 0)
			return -1;
		readmem(owner + K.objcg_memcg, KVADDR, &m, sizeof(m), "objcg.memcg",
			RETURN_ON_ERROR | QUIET);
		if ((c = mz_tab_at(&objcgs, owner, 0, 0, 0)))
			c[0] = m, c[1] = 0;
		now = m;
		orig = 0;
	} else {
		now = e->n[0];
		orig = e->n[1];
	}
	if ((e = mz_tab_find(&zset, now, 0, 0))) {
		*pins = 1;
		return (long)e->n[0] - 1;
	}
	if ((e = mz_tab_find(&zset, orig, 0, 0))) {
		*pins = 0;
		return (long)e->n[0] - 1;
	}
	return -1;
}

/* -- the page scan --------------------------------------------------------------- */

static int crash_read(void *arg, uint64_t kvaddr, void *buf, size_t len)
{
	(void)arg;
	return readmem(kvaddr, KVADDR, buf, len, "struct page", RETURN_ON_ERROR | QUIET)
		? 0 : -1;
}

static const char *crash_errmsg(void *arg)
{
	(void)arg;
	return "readmem failed";
}

static struct mz_result scan;
static int have_scan;
static double scan_seconds;
static uint64_t scan_faults_pages;

/* PFN ranges of the present sparse sections below max_pfn (crash's own
 * mem_section reading), as analyzers/memcg_zombies/scan/memmap.py's memmap_ranges: a hole (the
 * PCI hole of any machine over 3 GiB) is then not read, nor reported as
 * unreadable.  0..max_pfn without SPARSEMEM.  Returns the count, 0 if out of
 * memory. */
static size_t memmap_ranges(ulong max_pfn, struct mz_range **out)
{
	ulong nr, last = max_pfn ? pfn_to_section_nr(max_pfn - 1) : 0;
	size_t n = 0, cap = 16;
	struct mz_range *r = malloc(cap * sizeof(*r));

	if (!r)
		return 0;
	if (!IS_SPARSEMEM()) {
		r[0].lo = 0;
		r[0].hi = max_pfn;
		*out = r;
		return 1;
	}
	for (nr = 0; max_pfn && nr <= last; nr++) {
		uint64_t lo = section_nr_to_pfn(nr), hi = lo + PAGES_PER_SECTION();

		if (!valid_section_nr(nr))
			continue;
		if (hi > max_pfn)
			hi = max_pfn;
		if (n && r[n - 1].hi == lo) {
			r[n - 1].hi = hi;
			continue;
		}
		if (n == cap) {
			struct mz_range *nr_ = realloc(r, 2 * cap * sizeof(*r));

			if (!nr_) {
				free(r);
				return 0;
			}
			r = nr_;
			cap *= 2;
		}
		r[n].lo = lo;
		r[n].hi = hi;
		n++;
	}
	if (!n) {	/* no section read as present: scan it all, holes fail */
		r[0].lo = 0;
		r[0].hi = max_pfn;
		n = 1;
	}
	*out = r;
	return n;
}

static int run_scan(void)
{
	struct mz_reader rd1 = { crash_read, crash_errmsg, NULL, NULL };
	struct mz_scan_opts o;
	struct mz_range *ranges = NULL;
	uint64_t *owners;
	size_t n = 0, i, nranges;
	ulong vmemmap = 0, max_pfn = 0;
	struct timespec t0, t1;

	if (K.lay_err[0]) {
		fprintf(fp, "zombies: no page scan: %s\n", K.lay_err);
		return 0;
	}
	if (kernel_symbol_exists("vmemmap_base"))
		rd_ulong(symbol_value("vmemmap_base"), &vmemmap, "vmemmap_base");
	if (!vmemmap)
		vmemmap = machdep->machspec->vmemmap_vaddr;
	if (!kernel_symbol_exists("max_pfn") ||
	    !rd_ulong(symbol_value("max_pfn"), &max_pfn, "max_pfn") || !vmemmap) {
		fprintf(fp, "zombies: no page scan: no vmemmap or max_pfn\n");
		return 0;
	}
	owners = calloc(zset.len + objcgs.len + 1, sizeof(*owners));
	if (!owners)
		return 0;
	for (i = 0; i < zset.cap; i++)
		if (zset.e[i].used)
			owners[n++] = zset.e[i].k[0];
	for (i = 0; i < objcgs.cap; i++) {
		const struct mz_ent *e = &objcgs.e[i];

		if (e->used && (mz_tab_find(&zset, e->n[0], 0, 0) ||
				mz_tab_find(&zset, e->n[1], 0, 0)))
			owners[n++] = e->k[0];
	}
	memset(&o, 0, sizeof(o));
	o.owners = owners;
	o.nowners = n;
	o.nthreads = 1;		/* crash's readers are not thread-safe */
	nranges = memmap_ranges(max_pfn, &ranges);
	if (!nranges || mz_result_init(&scan)) {
		free(ranges);
		free(owners);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mz_scan(&K.l, vmemmap, &rd1, ranges, nranges, &o, &scan)) {
		fprintf(fp, "zombies: page scan failed (out of memory or bad layout)\n");
		mz_result_free(&scan);
		free(ranges);
		free(owners);
		return 0;
	}
	free(ranges);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	scan_seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	scan_faults_pages = 0;
	for (i = 0; i < scan.nfaults; i++)
		if (scan.faults[i].kind == MZ_FAULT_MEMMAP)
			scan_faults_pages += scan.faults[i].hi - scan.faults[i].pfn;
	free(owners);
	have_scan = 1;
	return 1;
}

/* -- pins per zombie ---------------------------------------------------------------- */

enum { P_PAGECACHE, P_SHMEM, P_ANON, P_SWAPCACHE, P_KMEM, P_NPAGE };
static const char *const page_kind[P_NPAGE] = {
	"pagecache", "shmem", "anon", "swapcache", "kmem"
};

static int kind_of_class(unsigned cls)
{
	switch (cls) {
	case MZ_FILE: return P_PAGECACHE;
	case MZ_SHMEM: return P_SHMEM;
	case MZ_ANON: return P_ANON;
	case MZ_SWAPCACHE: return P_SWAPCACHE;
	case MZ_KMEM: return P_KMEM;
	}
	return -1;
}

struct pins {
	uint64_t pages[P_NPAGE], reparented[P_NPAGE];
	uint64_t page_refs;
	uint64_t children, child_refs;
	long id_ref;		/* memcg->id.ref: swap entries (and v1 moves) */
	uint64_t cgwb;
};

static struct pins *pins;

static long css_refs_of(int kind, int via_memcg, uint64_t pages, uint64_t folios)
{
	if (!via_memcg)
		return 0;	/* an objcg reference, not a css one */
	if (kind == P_KMEM)
		return pages * K.kmem_css_refs_per_page;
	return K.lru_css_unit == 2 ? folios : K.lru_css_unit == 1 ? pages : 0;
}

static void page_pins(void)
{
	size_t i;

	for (i = 0; i < scan.by_owner.cap; i++) {
		const struct mz_ent *e = &scan.by_owner.e[i], *f;
		int kind = e->used ? kind_of_class(e->k[1]) : -1;
		int live, via;
		long z;

		if (kind < 0 || !e->k[0] || !e->n[0])
			continue;
		if ((z = owner_of(e->k[0], &live, &via)) < 0)
			continue;
		if (!live) {
			pins[z].reparented[kind] += e->n[0];
			continue;
		}
		pins[z].pages[kind] += e->n[0];
		f = mz_tab_find(&scan.folios, e->k[0], e->k[1], 0);
		pins[z].page_refs += css_refs_of(kind, via, e->n[0], f ? f->n[0] : 0);
	}
}

static void child_pins(size_t *zidx, size_t nz)
{
	size_t i;

	(void)zidx;
	(void)nz;
	for (i = 0; i < nmemcgs; i++) {
		const struct mz_ent *e = mz_tab_find(&zset, memcgs[i].parent_css - K.memcg_css, 0, 0);

		if (e && memcgs[i].parent_css) {
			pins[e->n[0] - 1].children++;
			pins[e->n[0] - 1].child_refs++;
		}
	}
}

/* memcg->id.ref: while > 0 the private id holds one css ref (swap.py);
 * after offline dropped the base ref, what is left are swap entries. */
static void id_pins(size_t *zidx, size_t nz)
{
	size_t i;

	for (i = 0; i < nz; i++) {
		uint ref;

		pins[i].id_ref = -1;
		if (K.memcg_id >= 0 && K.id_ref >= 0 &&
		    rd_uint(memcgs[zidx[i]].addr + K.memcg_id + K.id_ref, &ref, "memcg id.ref"))
			pins[i].id_ref = (int)ref;
	}
}

/* cgroup writeback: every bdi's wb_list and offline_cgwbs (writeback.py). */
static void wb_list(ulong head, long node_off, struct mz_tab *seen)
{
	ulong pos, nxt, css;
	size_t steps = 0;

	if (!rd_ulong(head, &pos, "wb list"))
		return;
	while (pos != head && pos && steps++ < MAX_LIST) {
		ulong wb = pos - node_off;
		const struct mz_ent *e;

		if (!rd_ulong(pos, &nxt, "wb list"))
			return;
		if (!mz_tab_find(seen, wb, 0, 0)) {
			mz_tab_at(seen, wb, 0, 0, 0);
			if (rd_ulong(wb + K.wb_memcg_css, &css, "wb.memcg_css") && css &&
			    (e = mz_tab_find(&zset, css - K.memcg_css, 0, 0)))
				pins[e->n[0] - 1].cgwb++;
		}
		pos = nxt;
	}
}

static void cgwb_pins(void)
{
	struct mz_tab seen;
	ulong head, pos, nxt;
	size_t steps = 0;

	if (K.wb_memcg_css < 0 || mz_tab_init(&seen, 64))
		return;		/* no CONFIG_CGROUP_WRITEBACK */
	if (K.bdi_bdi_list >= 0 && K.bdi_wb_list >= 0 && K.wb_bdi_node >= 0 &&
	    kernel_symbol_exists("bdi_list")) {
		head = symbol_value("bdi_list");
		if (rd_ulong(head, &pos, "bdi_list"))
			while (pos != head && pos && steps++ < MAX_LIST) {
				ulong bdi = pos - K.bdi_bdi_list;

				if (!rd_ulong(pos, &nxt, "bdi_list"))
					break;
				wb_list(bdi + K.bdi_wb_list, K.wb_bdi_node, &seen);
				pos = nxt;
			}
	}
	/* v5.14+, c22d70a162d3: killed wbs wait on offline_cgwbs */
	if (K.wb_offline_node >= 0 && kernel_symbol_exists("offline_cgwbs"))
		wb_list(symbol_value("offline_cgwbs"), K.wb_offline_node, &seen);
	mz_tab_free(&seen);
}

/* -- the analysis, cached for a dump ------------------------------------------------ */

static size_t *zidx, nz;
static int analysed;
static struct xpins *xpins;	/* sockets, stock, bpf maps per zombie */

static void reset(void)
{
	size_t i;

	for (i = 0; i < nmemcgs; i++)
		free(memcgs[i].path);
	nmemcgs = 0;
	mzc_xpins_free(xpins, nz);
	xpins = NULL;
	free(zidx);
	zidx = NULL;
	nz = 0;
	free(pins);
	pins = NULL;
	if (have_scan)
		mz_result_free(&scan);
	have_scan = 0;
	mz_tab_free(&objcgs);
	mz_tab_free(&zset);
	mz_tab_free(&mset);
	analysed = 0;
	nfaults = 0;
	first_fault[0] = 0;
}

static int analyse(void)
{
	size_t i;

	if (analysed && !ACTIVE())
		return 1;
	reset();
	init_offsets();
	if (K.memcg_css < 0 || K.css_children < 0 || K.css_flags < 0) {
		fprintf(fp, "zombies: no memory cgroup types in this kernel's debug info\n");
		return 0;
	}
	if (mz_tab_init(&objcgs, 256) || mz_tab_init(&zset, 256) || mz_tab_init(&mset, 256))
		return 0;
	if (!walk_memcgs()) {
		fprintf(fp, "zombies: no memory cgroups (root_mem_cgroup unreadable or NULL)\n");
		return 0;
	}
	zidx = calloc(nmemcgs + 1, sizeof(*zidx));
	for (i = 0; zidx && i < nmemcgs; i++) {
		mz_tab_at(&mset, memcgs[i].addr, 0, 0, 0);
		if (memcgs[i].state == 1) {
			uint64_t *c = mz_tab_at(&zset, memcgs[i].addr, 0, 0, 0);

			if (c)
				c[0] = nz + 1;
			zidx[nz++] = i;
		}
	}
	pins = calloc(nz + 1, sizeof(*pins));
	if (!zidx || !pins)
		return 0;
	for (i = 0; i < nz; i++) {
		struct memcg *m = &memcgs[zidx[i]];

		m->path = memcg_path(m->css);
		m->cgroup_id = cgroup_id(m->css);
		read_ref(m);
	}
	objcg_owners();
	if (run_scan())
		page_pins();
	child_pins(zidx, nz);
	id_pins(zidx, nz);
	cgwb_pins();
	if (!(xpins = mzc_xpins(nz)))
		return 0;
	analysed = 1;
	return 1;
}

static long explained(size_t zi)
{
	const struct pins *p = &pins[zi];

	return p->page_refs + p->child_refs + (p->id_ref > 0) + p->cgwb + xpins[zi].css_refs;
}

/* "anon=4110,kmem=18,shmem=1,child=1,swap-ids=3872,cgwb=1,socket=3" */
static void pin_summary(size_t zi, char *buf, size_t len)
{
	const struct pins *p = &pins[zi];
	size_t o = 0;
	int k;

	buf[0] = 0;
#define ADD(...) do { if (o < len) o += snprintf(buf + o, len - o, __VA_ARGS__); } while (0)
	for (k = 0; k < P_NPAGE; k++)
		if (p->pages[k])
			ADD("%s%s=%llu", o ? "," : "", page_kind[k], (ulonglong)p->pages[k]);
	if (p->children)
		ADD("%schild=%llu", o ? "," : "", (ulonglong)p->children);
	if (p->id_ref > 0)
		ADD("%sswap-ids=%ld", o ? "," : "", p->id_ref);
	if (p->cgwb)
		ADD("%scgwb=%llu", o ? "," : "", (ulonglong)p->cgwb);
	for (k = 0; k < X_NKIND; k++)
		if (xpins[zi].n[k])
			ADD("%s%s=%lu", o ? "," : "", mzc_xkind[k], xpins[zi].n[k]);
	for (k = 0; k < P_NPAGE; k++)
		if (p->reparented[k])
			ADD("%s%s(reparented)=%llu", o ? "," : "", page_kind[k],
			    (ulonglong)p->reparented[k]);
	if (!o)
		ADD("-");
#undef ADD
}

static void footer(void)
{
	if (have_scan)
		fprintf(fp, "page scan: %llu struct pages in %.2f s, %llu unreadable "
			"(%zu failed reads)\n", (ulonglong)scan.pages_scanned, scan_seconds,
			(ulonglong)scan_faults_pages, scan.nfaults);
	if (nfaults)
		fprintf(fp, "%lu unreadable reads outside the memmap (first: %s)\n",
			nfaults, first_fault);
}

static void list_zombies(void)
{
	size_t i;
	char buf[512], ref[32];

	fprintf(fp, "%-16s  %9s  %8s  %9s  %-40s  %s\n", "MEMCG", "CGROUP_ID", "REFCNT",
		"EXPLAINED", "PINS", "PATH");
	for (i = 0; i < nz; i++) {
		struct memcg *m = &memcgs[zidx[i]];

		pin_summary(i, buf, sizeof(buf));
		if (m->ref_ok)
			snprintf(ref, sizeof(ref), "%ld", m->refcnt);
		else
			strcpy(ref, "-");
		fprintf(fp, "%16lx  %9ld  %8s  %9ld  %-40s  %s\n", m->addr, m->cgroup_id, ref,
			explained(i), buf, m->path ? m->path : "?");
	}
	fprintf(fp, "%zu memcgs, %zu dying\n", nmemcgs, nz);
	footer();
}

/* -- zombies -p: one memcg in detail ------------------------------------------------- */

static int dentry_path(ulong inode, char *out, size_t len)
{
	ulong first, dentry, parent, name;
	char *names[MAX_DEPTH], buf[NAME_LEN];
	int n = 0, i;

	out[0] = 0;
	if (K.inode_dentry < 0 || K.dentry_alias < 0 ||
	    !rd_ulong(inode + K.inode_dentry, &first, "inode.i_dentry") || !first)
		return 0;
	dentry = first - K.dentry_alias;
	while (n < MAX_DEPTH) {
		if (!rd_ulong(dentry + K.dentry_parent, &parent, "dentry.d_parent"))
			break;
		if (parent == dentry)
			break;
		if (!rd_ulong(dentry + K.dentry_name + K.qstr_name, &name, "dentry.d_name") ||
		    !read_string(name, buf, sizeof(buf) - 1))
			break;
		buf[sizeof(buf) - 1] = 0;
		names[n++] = strdup(buf);
		dentry = parent;
	}
	for (i = n - 1; i >= 0; i--) {
		if (strlen(out) + strlen(names[i] ? names[i] : "") + 2 < len) {
			strcat(out, "/");
			strcat(out, names[i] ? names[i] : "?");
		}
		free(names[i]);
	}
	if (!n && len > 1)
		strcpy(out, "/");
	return 1;
}

static void print_mapping(const struct mz_ent *e, int kind, int via_memcg, int live)
{
	ulong mapping = e->k[1], inode = 0, ino = 0, sb, type, name;
	char fs[64] = "?", path[1024] = "";
	long refs = live ? css_refs_of(kind, via_memcg, e->n[0], e->n[3]) : 0;

	if (rd_ulong(mapping + K.as_host, &inode, "address_space.host") && inode) {
		rd_ulong(inode + K.inode_ino, &ino, "inode.i_ino");
		if (rd_ulong(inode + K.inode_sb, &sb, "inode.i_sb") &&
		    rd_ulong(sb + K.sb_type, &type, "super_block.s_type") &&
		    rd_ulong(type + K.fst_name, &name, "file_system_type.name"))
			read_string(name, fs, sizeof(fs) - 1);
		if (!dentry_path(inode, path, sizeof(path)) || !path[0])
			snprintf(path, sizeof(path), "<unlinked inode %lu>", ino);
	}
	fprintf(fp, "  %-10s %8llu %-7s %8ld  inode %lx ino %lu mapping %lx dirty %llu "
		"writeback %llu  %s (%s)%s\n", page_kind[kind], (ulonglong)e->n[0], "pages",
		refs, inode, ino, mapping, (ulonglong)e->n[1], (ulonglong)e->n[2], path, fs,
		live ? "" : " [reparented]");
}

static const char *const rest_label[P_NPAGE] = {
	"page-cache pages of unknown files", "shmem pages of unknown files",
	"anonymous memory", "swap cache",
	"kernel pages (vmalloc, stacks, page tables, pipes)"
};

/* Sockets, one line each; the charge stock as one line (its CPUs) as
 * stock.py; BPF maps one line each. */
static void detail_objects(size_t zi)
{
	const struct xpins *x = &xpins[zi];
	const struct xpin *q;
	long refs = 0, bytes = 0;
	char cpus[256] = "", slots[512] = "";
	size_t oc = 0, os = 0;
	int last = -1;

	for (q = x->head; q; q = q->next)
		if (q->kind == X_SOCKET)
			fprintf(fp, "  %-10s %8d %-7s %8ld  %s sock %lx skmem %ld bytes\n", "socket",
				1, "objects", q->css_refs, q->what, q->addr, q->bytes);
	for (q = x->head; q; q = q->next) {
		if (q->kind != X_STOCK)
			continue;
		refs += q->css_refs;
		bytes += q->bytes;
		if (q->cpu != last && oc < sizeof(cpus))
			oc += snprintf(cpus + oc, sizeof(cpus) - oc, "%s%d", oc ? ", " : "", q->cpu);
		last = q->cpu;
		if (os < sizeof(slots))
			os += snprintf(slots + os, sizeof(slots) - os, "%s%s %ld bytes",
				       os ? ", " : "", q->what, q->bytes);
	}
	if (x->n[X_STOCK])
		fprintf(fp, "  %-10s %8lu %-7s %8ld  per-CPU charge stock on CPU %s (%s)\n",
			"stock", x->n[X_STOCK], "refs", refs, cpus, slots);
	for (q = x->head; q; q = q->next)
		if (q->kind == X_BPF)
			fprintf(fp, "  %-10s %8d %-7s %8ld  %s map %lx charged via %s\n", "bpf_map",
				1, "objects", q->css_refs, q->what, q->addr,
				q->via_objcg ? "objcg" : "memcg");
}

static void detail(size_t zi)
{
	struct memcg *m = &memcgs[zidx[zi]];
	const struct pins *p = &pins[zi];
	size_t i;
	int kind;
	char ref[32];

	if (m->ref_ok)
		snprintf(ref, sizeof(ref), "%ld", m->refcnt);
	else
		strcpy(ref, "unreadable");
	fprintf(fp, "MEMCG %lx  %s\n", m->addr, m->path ? m->path : "?");
	fprintf(fp, "  state %s, cgroup id %ld, css refcnt %s (%s%s)\n",
		state_name(m->state), m->cgroup_id, ref, m->ref_atomic ? "atomic" : "percpu",
		m->ref_dead ? ", dead" : "");
	fprintf(fp, "  %-10s %8s %-7s %8s  %s\n", "KIND", "COUNT", "UNIT", "CSS_REFS", "WHAT");
	if (!have_scan)
		fprintf(fp, "  (no page scan)\n");
	for (kind = 0; have_scan && kind < P_NPAGE; kind++) {
		/* every owner that resolves to this zombie, per mapping first */
		for (i = 0; i < scan.by_owner.cap; i++) {
			const struct mz_ent *e = &scan.by_owner.e[i], *f;
			uint64_t rest, rest_folios, folios;
			size_t j;
			int live, via;
			long z;

			if (!e->used || !e->k[0] || kind_of_class(e->k[1]) != kind || !e->n[0])
				continue;
			if ((z = owner_of(e->k[0], &live, &via)) < 0 || (size_t)z != zi)
				continue;
			f = mz_tab_find(&scan.folios, e->k[0], e->k[1], 0);
			folios = f ? f->n[0] : 0;
			rest = e->n[0];
			rest_folios = folios;
			if (kind == P_PAGECACHE || kind == P_SHMEM)
				for (j = 0; j < scan.by_mapping.cap; j++) {
					const struct mz_ent *me = &scan.by_mapping.e[j];

					if (!me->used || me->k[0] != e->k[0] || me->tag != e->k[1])
						continue;
					print_mapping(me, kind, via, live);
					rest -= me->n[0];
					rest_folios -= me->n[3];
				}
			if ((int64_t)rest > 0)
				fprintf(fp, "  %-10s %8llu %-7s %8ld  %s via %s %lx%s\n",
					page_kind[kind], (ulonglong)rest, "pages",
					live ? css_refs_of(kind, via, rest, rest_folios) : 0,
					rest_label[kind], via ? "memcg" : "objcg", (ulong)e->k[0],
					live ? "" : " [reparented]");
		}
	}
	for (i = 0; i < nmemcgs; i++)
		if (memcgs[i].parent_css == m->css && memcgs[i].parent_css) {
			char *cp = memcg_path(memcgs[i].css);

			fprintf(fp, "  %-10s %8d %-7s %8d  memcg %lx %s (%s)\n", "child", 1, "refs",
				1, memcgs[i].addr, cp ? cp : "?", state_name(memcgs[i].state));
			free(cp);
		}
	if (p->id_ref > 0)
		fprintf(fp, "  %-10s %8ld %-7s %8d  memcg id references (swap entries)\n",
			"swap", p->id_ref, "refs", 1);
	if (p->cgwb)
		fprintf(fp, "  %-10s %8llu %-7s %8llu  cgroup writeback (bdi_writeback.memcg_css)\n",
			"cgwb", (ulonglong)p->cgwb, "objects", (ulonglong)p->cgwb);
	detail_objects(zi);
	fprintf(fp, "  explained %ld of %s css refs", explained(zi), ref);
	if (m->ref_ok && m->refcnt > explained(zi))
		fprintf(fp, " (not examined: slab objects, sockets neither hashed nor in "
			"a task's fd table, other referrers)");
	fprintf(fp, "\n");
}

/* zombies -L: the layout descriptor as filled from crash's type info. */
static void print_layout(void)
{
	const struct mz_layout *l = &K.l;

	fprintf(fp, "psize %u flags %u mapping %u memcg %u comp %u type %u "
		"type_shift %u ref_shift %u\n", l->psize, l->off_flags, l->off_mapping,
		l->off_memcg, l->off_comp, l->off_type, l->type_shift, l->ref_shift);
	fprintf(fp, "PG_head %#llx PG_dirty %#llx PG_writeback %#llx PG_swapbacked %#llx "
		"PG_swapcache %#llx PG_slab %#llx\n", (ulonglong)l->PG_head,
		(ulonglong)l->PG_dirty, (ulonglong)l->PG_writeback,
		(ulonglong)l->PG_swapbacked, (ulonglong)l->PG_swapcache, (ulonglong)l->PG_slab);
	fprintf(fp, "top_byte %d buddy %#x slab %#x kmemcg %#x vector_bit %#llx kmem_bit %#llx "
		"data_mask %#llx vec_mask %#llx info_mask %d fake_heads %d\n", l->top_byte,
		l->type_buddy, l->type_slab, l->type_kmemcg, (ulonglong)l->vector_bit,
		(ulonglong)l->kmem_bit, (ulonglong)l->data_mask, (ulonglong)l->vec_mask,
		l->info_mask, l->fake_heads);
	fprintf(fp, "cache %#x stride %#x objects bit %#x width %#x ext_size %u\n",
		l->off_cache, l->stride_off, l->objects_bit, l->objects_width, l->ext_size);
	fprintf(fp, "lru_css_unit %d kmem_css_refs_per_page %d%s%s\n", K.lru_css_unit,
		K.kmem_css_refs_per_page, K.lay_err[0] ? " error: " : "", K.lay_err);
}

static long find_zombie(const char *arg)
{
	size_t i;
	char *end;
	ulong v;

	for (i = 0; i < nz; i++) {
		struct memcg *m = &memcgs[zidx[i]];

		if (arg[0] == '/' && m->path && !strcmp(m->path, arg))
			return i;
	}
	if (arg[0] == '/')
		return -1;
	/* a decimal number is a cgroup id; anything else hex (an address) */
	v = strtoul(arg, &end, 10);
	if (!*end && strncmp(arg, "0x", 2))
		for (i = 0; i < nz; i++)
			if (memcgs[zidx[i]].cgroup_id == (long)v)
				return i;
	v = strtoul(arg, &end, 16);
	if (*end)
		return -1;
	for (i = 0; i < nz; i++)
		if (memcgs[zidx[i]].addr == v || memcgs[zidx[i]].css == v)
			return i;
	return -1;
}

static void cmd_zombies(void)
{
	int c;
	char *memcg = NULL;

	while ((c = getopt(argcnt, args, "Lp:")) != EOF) {
		switch (c) {
		case 'L':
			init_offsets();
			print_layout();
			return;
		case 'p':
			memcg = optarg;
			break;
		default:
			argerrs++;
			break;
		}
	}
	if (argerrs || args[optind])
		cmd_usage(pc->curcmd, SYNOPSIS);
	if (!analyse())
		return;
	if (memcg) {
		long zi = find_zombie(memcg);

		if (zi < 0) {
			fprintf(fp, "zombies: %s: no dying memcg with that address, cgroup id "
				"or path\n", memcg);
			return;
		}
		detail(zi);
		footer();
		return;
	}
	list_zombies();
}

static char *help_zombies[] = {
	"zombies",
	"dying (zombie) memory cgroups and what pins them",
	"[-p memcg | -L]",
	"  Lists every dying memory cgroup: offline (no CSS_ONLINE) but not yet",
	"  released (no CSS_RELEASED), found by walking css.children/sibling from",
	"  root_mem_cgroup.  For each: the mem_cgroup address, the cgroup id (the",
	"  cgroup directory's inode number), the exact css refcount (the atomic",
	"  count of a killed percpu_ref, else count plus the per-CPU counters), how",
	"  many of those references the pins found explain, the pins, and the path.",
	"",
	"  Pins: pages charged to the memcg by class (pagecache, shmem, anon,",
	"  swapcache, kmem), from one scan of the memmap with memcg-zombies' C core;",
	"  child=N child css; swap-ids=N memcg id references (swap entries: the id",
	"  holds one css reference); cgwb=N cgroup writeback structures;",
	"  socket=N sockets charged to the memcg (sk->sk_memcg, one css reference",
	"  each): TCP ones in the established and listening hash tables of",
	"  tcp_hashinfo and per-netns ehash tables, and sockets of every family",
	"  in the fd tables of the tasks on init_task.tasks (not: timewait and",
	"  request socks, sockets held by the kernel alone);",
	"  stock=N per-CPU charge stock slots (memcg_stock) caching the memcg (one",
	"  css reference) or one of its objcgs (none); bpf_map=N BPF maps in",
	"  map_idr charged to it (map->memcg holds a css reference, map->objcg",
	"  none).  Pages charged through an objcg that now charges an ancestor",
	"  show as KIND(reparented)=N and hold no css reference.",
	"",
	"  The scan is done once per dump and reused by later commands.  Memory that",
	"  cannot be read is counted and reported, never fatal.",
	"",
	"    -p memcg  pins of one dying memcg in detail: page cache per file",
	"              (inode, inode number, address_space, dirty and writeback",
	"              pages, path), one line per socket (addresses, ports, TCP",
	"              state, struct sock, skmem bytes), the stock's CPUs, one",
	"              line per bpf map (id, name, struct bpf_map).  memcg: a",
	"              mem_cgroup (or css) address in hex, a cgroup id in",
	"              decimal, or a cgroup path such as /a/b.",
	"    -L        the struct page layout descriptor handed to the scan core.",
	"",
	"EXAMPLES",
	"  List the zombies:",
	"",
	"    %s> zombies",
	"    MEMCG             CGROUP_ID    REFCNT  EXPLAINED  PINS                      PATH",
	"    ffff8abed5c0f000        155      1024       1024  shmem=1024                /mz/tmpfs/leaf",
	"    ffff8abed5c0c000        221       769        769  pagecache=768,cgwb=1      /mz/ext4/leaf",
	"    ffff8abedfed1000        419        35         35  shmem=1,anon=31,socket=3  /mz/tcp/leaf",
	"    ffff8abec2665000        551         1          1  child=1                   /mz/children/parent",
	"    ...",
	"    1021 memcgs, 1008 dying",
	"    page scan: 131034 struct pages in 0.02 s, 0 unreadable (0 failed reads)",
	"",
	"  One of them in detail (by path, cgroup id or address):",
	"",
	"    %s> zombies -p 221",
	"    MEMCG ffff8abed5c0c000  /mz/ext4/leaf",
	"      state dying, cgroup id 221, css refcnt 769 (atomic, dead)",
	"      KIND          COUNT UNIT    CSS_REFS  WHAT",
	"      pagecache       256 pages        256  inode ffff8abec1d24f20 ino 14 mapping",
	"                  ffff8abec1d25098 dirty 256 writeback 0  /ext4/dirty.bin (ext4)",
	"      pagecache       512 pages        512  inode ffff8abec1d26fb8 ino 13 mapping",
	"                  ffff8abec1d27130 dirty 0 writeback 0  /ext4/clean.bin (ext4)",
	"      cgwb              1 objects        1  cgroup writeback (bdi_writeback.memcg_css)",
	"      explained 769 of 769 css refs",
	"",
	"    %s> zombies -p /mz/tcp/leaf",
	"    MEMCG ffff8abedfed1000  /mz/tcp/leaf",
	"      state dying, cgroup id 419, css refcnt 35 (atomic, dead)",
	"      KIND          COUNT UNIT    CSS_REFS  WHAT",
	"      shmem             1 pages          1  inode ffff8abedff4d2f0 ino 9 mapping",
	"                  ffff8abedff4d468 dirty 1 writeback 0  /tcp.ready (tmpfs)",
	"      anon             31 pages         31  anonymous memory via memcg ffff8abedfed1000",
	"      socket            1 objects        1  TCP 127.0.0.1:7777 -> 127.0.0.1:44748",
	"                  (ESTABLISHED) sock ffff8abedff15a00 skmem 90112 bytes",
	"      socket            1 objects        1  TCP 127.0.0.1:44748 -> 127.0.0.1:7777",
	"                  (ESTABLISHED) sock ffff8abedff11b00 skmem 2605056 bytes",
	"      socket            1 objects        1  TCP 127.0.0.1:7777 (LISTEN) sock",
	"                  ffff8abedff12400 skmem 0 bytes",
	"      explained 35 of 35 css refs",
	"",
	"  Source and tests: memcg-zombies, libhelper/crash/.",
	NULL
};

static struct command_table_entry command_table[] = {
	{ "zombies", cmd_zombies, help_zombies, 0 },
	{ NULL, NULL, NULL, 0 }
};

void zombies_init(void)
{
	register_extension(command_table);
}

void zombies_fini(void)
{
	reset();
	free(memcgs);
	memcgs = NULL;
	cap_memcgs = 0;
}
