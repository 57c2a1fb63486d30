/* memcg_zombies._scan: the C page-scan engine for analyzers/memcg_zombies/scan/.
 *
 *   scan(prog, layout, base, ranges, owners, threads=1, vmcore=None) -> dict
 *
 * 'layout' is layout.pages.c_descriptor() (struct mz_layout by field name);
 * 'owners' a set of owners of interest or None (all).  With 'vmcore' (a
 * kdump-compressed or ELF file), 'threads' independent libkdumpfile readers
 * scan in parallel without the GIL; without it, reads go through
 * prog.read() in 1 MiB chunks on the calling thread.  The dict holds
 * exactly the fields of scan/model.py PageScan, plus "stats" (its reader_stats).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "../core/scan.h"
#include "../readers/kdump.h"

/* -- the drgn reader --------------------------------------------------- */

struct drgn_reader {
	PyObject *read;		/* bound prog.read */
	char err[512];
	int fatal;		/* a non-FaultError exception: re-raised */
};

static PyObject *FaultError;
static PyObject *class_names;	/* CLASSES, the class ids as strings */

static int drgn_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	struct drgn_reader *r = arg;
	PyObject *b;

	if (r->fatal)
		return -1;
	b = PyObject_CallFunction(r->read, "KnO", (unsigned long long)addr,
				  (Py_ssize_t)len, Py_False);
	if (!b) {
		PyObject *type, *value, *tb, *s;

		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		if (!FaultError || !PyErr_GivenExceptionMatches(type, FaultError)) {
			PyErr_Restore(type, value, tb);	/* kept for the caller */
			r->fatal = 1;
			snprintf(r->err, sizeof(r->err), "python error");
			return -1;
		}
		s = value ? PyObject_Str(value) : NULL;
		snprintf(r->err, sizeof(r->err), "%s", s ? PyUnicode_AsUTF8(s) : "fault");
		Py_XDECREF(s);
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		PyErr_Clear();
		return -1;
	}
	if (!PyBytes_Check(b) || (size_t)PyBytes_GET_SIZE(b) != len) {
		Py_DECREF(b);
		snprintf(r->err, sizeof(r->err), "short read");
		return -1;
	}
	memcpy(buf, PyBytes_AS_STRING(b), len);
	Py_DECREF(b);
	return 0;
}

static const char *drgn_errmsg(void *arg)
{
	return ((struct drgn_reader *)arg)->err;
}

/* -- layout from the descriptor -------------------------------------------
 *
 * The descriptor is layout.pages.c_descriptor(): a dict with exactly the
 * fields of struct mz_layout, by name (MZ_NONE for an absent member).  The
 * table below lists every field once; a missing or extra key is an error, so
 * the two languages cannot drift apart silently.
 */

#define FIELD(f) { #f, offsetof(struct mz_layout, f), sizeof(((struct mz_layout *)0)->f) }

static const struct { const char *name; size_t off, size; } layout_fields[] = {
	FIELD(psize), FIELD(off_flags), FIELD(off_mapping), FIELD(off_memcg),
	FIELD(off_comp), FIELD(off_type), FIELD(type_shift), FIELD(ref_shift),
	FIELD(PG_head), FIELD(PG_dirty), FIELD(PG_writeback), FIELD(PG_swapbacked),
	FIELD(PG_swapcache), FIELD(PG_slab), FIELD(top_byte), FIELD(type_buddy),
	FIELD(type_slab), FIELD(type_kmemcg), FIELD(vector_bit), FIELD(kmem_bit),
	FIELD(data_mask), FIELD(vec_mask), FIELD(info_mask), FIELD(fake_heads),
	FIELD(off_cache), FIELD(stride_off), FIELD(objects_bit), FIELD(objects_width),
	FIELD(ext_size), FIELD(needs_objcg_bit), FIELD(in_object_bit),
	FIELD(off_cache_size), FIELD(codetag),
};
#define NR_LAYOUT_FIELDS (sizeof(layout_fields) / sizeof(layout_fields[0]))

static int layout_from(PyObject *desc, struct mz_layout *l)
{
	size_t i;

	if (!PyDict_Check(desc)) {
		PyErr_SetString(PyExc_TypeError, "layout descriptor is not a dict");
		return -1;
	}
	if ((size_t)PyDict_Size(desc) != NR_LAYOUT_FIELDS) {
		PyErr_Format(PyExc_ValueError, "layout descriptor has %zd fields, struct mz_layout %zu",
			     PyDict_Size(desc), NR_LAYOUT_FIELDS);
		return -1;
	}
	mz_layout_init(l);
	for (i = 0; i < NR_LAYOUT_FIELDS; i++) {
		PyObject *v = PyDict_GetItemString(desc, layout_fields[i].name);
		char *dst = (char *)l + layout_fields[i].off;
		uint64_t u;

		if (!v) {
			PyErr_Format(PyExc_KeyError, "layout descriptor has no %s",
				     layout_fields[i].name);
			return -1;
		}
		u = PyLong_AsUnsignedLongLongMask(v);
		if (PyErr_Occurred())
			return -1;
		if (layout_fields[i].size == sizeof(uint64_t)) {
			memcpy(dst, &u, sizeof(u));
		} else if (layout_fields[i].size == sizeof(uint32_t)) {
			uint32_t w = (uint32_t)u;

			memcpy(dst, &w, sizeof(w));
		} else {
			PyErr_Format(PyExc_SystemError, "struct mz_layout.%s: unexpected size",
				     layout_fields[i].name);
			return -1;
		}
	}
	if (mz_layout_check(l)) {
		PyErr_SetString(PyExc_ValueError, "struct page layout out of bounds");
		return -1;
	}
	return 0;
}

/* layout(descriptor) -> dict: struct mz_layout as filled, every field. */
static PyObject *layout_py(PyObject *self, PyObject *desc)
{
	struct mz_layout l;
	PyObject *d;
	size_t i;
	(void)self;

	if (layout_from(desc, &l))
		return NULL;
	d = PyDict_New();
	if (!d)
		return NULL;
	for (i = 0; i < NR_LAYOUT_FIELDS; i++) {
		const char *src = (const char *)&l + layout_fields[i].off;
		uint64_t u = 0;
		uint32_t w;
		PyObject *v;

		if (layout_fields[i].size == sizeof(uint64_t)) {
			memcpy(&u, src, sizeof(u));
		} else {
			memcpy(&w, src, sizeof(w));
			u = w;
		}
		v = PyLong_FromUnsignedLongLong(u);
		if (!v || PyDict_SetItemString(d, layout_fields[i].name, v)) {
			Py_XDECREF(v);
			Py_DECREF(d);
			return NULL;
		}
		Py_DECREF(v);
	}
	return d;
}

/* -- results as Python ---------------------------------------------------- */

static int set_item(PyObject *d, PyObject *k, PyObject *v)
{
	int r = (k && v) ? PyDict_SetItem(d, k, v) : -1;

	Py_XDECREF(k);
	Py_XDECREF(v);
	return r;
}

static PyObject *owner_dict(const struct mz_tab *t, PyObject *names)
{
	PyObject *d = PyDict_New();
	size_t i;

	for (i = 0; d && i < t->cap; i++) {
		const struct mz_ent *e = &t->e[i];

		if (!e->used || !e->n[0])
			continue;
		if (set_item(d, Py_BuildValue("(KO)", e->k[0], PyTuple_GET_ITEM(names, e->k[1])),
			     PyLong_FromUnsignedLongLong(e->n[0]))) {
			Py_DECREF(d);
			return NULL;
		}
	}
	return d;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 'open_s', 'scan_s': seconds spent opening the readers and scanning. */
static PyObject *result_dict(struct mz_result *r, PyObject *names, double open_s,
			     double scan_s)
{
	PyObject *d = PyDict_New(), *maps = PyDict_New(), *mcls = PyDict_New();
	PyObject *slab = PyDict_New(), *faults = PyList_New(0), *errs = PyList_New(0);
	PyObject *heads = PySet_New(NULL);
	size_t i;

	if (!d || !maps || !mcls || !slab || !faults || !errs || !heads)
		goto fail;
	if (set_item(d, PyUnicode_FromString("by_owner"), owner_dict(&r->by_owner, names)) ||
	    set_item(d, PyUnicode_FromString("folios_by_owner"), owner_dict(&r->folios, names)))
		goto fail;
	for (i = 0; i < r->by_mapping.cap; i++) {
		const struct mz_ent *e = &r->by_mapping.e[i];
		PyObject *owner, *inner;

		if (!e->used)
			continue;
		owner = PyLong_FromUnsignedLongLong(e->k[0]);
		inner = owner ? PyDict_GetItemWithError(maps, owner) : NULL;
		if (!inner && !PyErr_Occurred()) {
			inner = PyDict_New();
			if (inner && PyDict_SetItem(maps, owner, inner) < 0)
				Py_CLEAR(inner);
			Py_XDECREF(inner);	/* maps holds it */
		}
		Py_XDECREF(owner);
		if (!inner ||
		    set_item(inner, PyLong_FromUnsignedLongLong(e->k[1]),
			     Py_BuildValue("(KKKK)", e->n[0], e->n[1], e->n[2], e->n[3])) ||
		    set_item(mcls, PyLong_FromUnsignedLongLong(e->k[1]),
			     Py_NewRef(PyTuple_GET_ITEM(names, e->tag))))
			goto fail;
	}
	for (i = 0; i < r->slab_objects.cap; i++) {
		const struct mz_ent *e = &r->slab_objects.e[i];

		if (e->used && set_item(slab, Py_BuildValue("(KK)", e->k[0], e->k[1]),
					PyLong_FromUnsignedLongLong(e->n[0])))
			goto fail;
	}
	for (i = 0; i < r->nfaults; i++) {
		const struct mz_fault *f = &r->faults[i];
		PyObject *t = NULL;

		if (f->kind == MZ_FAULT_MEMMAP) {
			/* python_engine.py keeps the whole message and merges adjacent
			 * failures with the same message (drgn's name the
			 * address, so in practice it merges none). */
			Py_ssize_t n = PyList_GET_SIZE(errs);
			PyObject *msg = PyUnicode_FromString(f->msg);

			if (!msg)
				goto fail;
			if (n) {
				PyObject *last = PyList_GET_ITEM(errs, n - 1);

				if (PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(last, 1)) == f->pfn &&
				    PyUnicode_Compare(PyTuple_GET_ITEM(last, 2), msg) == 0) {
					t = Py_BuildValue("(OKO)", PyTuple_GET_ITEM(last, 0),
							  f->hi, msg);
					Py_DECREF(msg);
					if (!t || PyList_SetItem(errs, n - 1, t))
						goto fail;
					continue;
				}
			}
			t = Py_BuildValue("(KKN)", f->pfn, f->hi, msg);
			if (!t || PyList_Append(errs, t)) {
				Py_XDECREF(t);
				goto fail;
			}
			Py_DECREF(t);
			continue;
		}
		if (f->kind == MZ_FAULT_HEAD) {
			/* python_engine.py caches heads: one fault per unreadable head. */
			PyObject *a = PyLong_FromUnsignedLongLong(f->addr);
			int seen = a ? PySet_Contains(heads, a) : -1;

			if (seen < 0 || (!seen && PySet_Add(heads, a))) {
				Py_XDECREF(a);
				goto fail;
			}
			Py_DECREF(a);
			if (seen)
				continue;
			t = Py_BuildValue("(ssK)", "compound head", f->msg, f->addr);
		} else {
			char where[96];

			snprintf(where, sizeof(where), f->kind == MZ_FAULT_CACHE ?
				 "kmem_cache of slab 0x%llx" : "slab object vector of slab 0x%llx",
				 (unsigned long long)f->slab);
			t = Py_BuildValue("(ssK)", where, f->msg, f->addr);
		}
		if (!t || PyList_Append(faults, t)) {
			Py_XDECREF(t);
			goto fail;
		}
		Py_DECREF(t);
	}
	if (set_item(d, PyUnicode_FromString("by_mapping"), maps) ||
	    set_item(d, PyUnicode_FromString("mapping_class"), mcls) ||
	    set_item(d, PyUnicode_FromString("slab_objects"), slab) ||
	    set_item(d, PyUnicode_FromString("faults"), faults) ||
	    set_item(d, PyUnicode_FromString("read_errors"), errs)) {
		maps = mcls = slab = faults = errs = NULL;
		goto fail;
	}
	maps = mcls = slab = faults = errs = NULL;
	Py_DECREF(heads);
	heads = NULL;
	if (set_item(d, PyUnicode_FromString("slabs_with_vector"),
		     PyLong_FromUnsignedLongLong(r->slabs_with_vector)) ||
	    set_item(d, PyUnicode_FromString("pages_scanned"),
		     PyLong_FromUnsignedLongLong(r->pages_scanned)) ||
	    set_item(d, PyUnicode_FromString("stats"),
		     Py_BuildValue("{sKsKsdsd}", "reads", r->reads, "bytes_read", r->bytes_read,
				   "open_seconds", open_s, "scan_seconds", scan_s)))
		goto fail;
	return d;
fail:
	Py_XDECREF(d);
	Py_XDECREF(maps);
	Py_XDECREF(mcls);
	Py_XDECREF(slab);
	Py_XDECREF(faults);
	Py_XDECREF(errs);
	Py_XDECREF(heads);
	return NULL;
}

/* PFN ranges: a sequence of (lo, hi), or a buffer of unsigned 64-bit lo, hi
 * pairs (array('Q')), which a slab walk of 100,000 slabs passes without
 * making as many tuples. */
static int ranges_from(PyObject *rlist, struct mz_range **out, Py_ssize_t *n)
{
	PyObject *seq;
	Py_ssize_t k;
	Py_buffer b;

	if (PyObject_CheckBuffer(rlist)) {
		if (PyObject_GetBuffer(rlist, &b, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS))
			return -1;
		if (b.itemsize != 8 || !b.format || !strchr("QLK", b.format[0]) || b.format[1] ||
		    b.len % (2 * 8)) {
			PyBuffer_Release(&b);
			PyErr_SetString(PyExc_TypeError, "a ranges buffer holds unsigned 64-bit lo, hi pairs");
			return -1;
		}
		*n = b.len / 16;
		*out = malloc(b.len ? b.len : 1);
		if (*out)
			memcpy(*out, b.buf, b.len);
		PyBuffer_Release(&b);
		if (!*out) {
			PyErr_NoMemory();
			return -1;
		}
		return 0;
	}
	seq = PySequence_Fast(rlist, "ranges must be a sequence of (lo, hi)");
	if (!seq)
		return -1;
	*n = PySequence_Fast_GET_SIZE(seq);
	*out = calloc(*n ? *n : 1, sizeof(**out));
	if (!*out) {
		Py_DECREF(seq);
		PyErr_NoMemory();
		return -1;
	}
	for (k = 0; k < *n; k++) {
		PyObject *r = PySequence_Fast_GET_ITEM(seq, k), **v;

		/* No argument parser per item: a slab walk may pass one range
		 * per slab. */
		if ((!PyTuple_Check(r) && !PyList_Check(r)) || PySequence_Fast_GET_SIZE(r) != 2) {
			PyErr_SetString(PyExc_TypeError, "ranges must be a sequence of (lo, hi)");
			break;
		}
		v = PySequence_Fast_ITEMS(r);
		(*out)[k].lo = PyLong_AsUnsignedLongLong(v[0]);
		(*out)[k].hi = PyLong_AsUnsignedLongLong(v[1]);
		if (PyErr_Occurred())
			break;
	}
	Py_DECREF(seq);
	return PyErr_Occurred() ? -1 : 0;
}

/* -- readers kept open ------------------------------------------------------ */

/* libkdumpfile readers of the last vmcore scanned, kept open for the next
 * scan of the same file: opening one costs ~0.5 ms (libkdumpfile reads the
 * headers, VMCOREINFO and the kernel's page tables), as much as a tenth of
 * a slab walk, and a drgn session scans the same dump again and again.
 * A file is the same while its device, inode, size and mtime are. */
#define POOL_MAX 16

static struct {
	struct mz_kdump *k[POOL_MAX];
	int n;
	char *path;
	struct stat st;
} pool;

static void pool_clear(void)
{
	while (pool.n)
		mz_kdump_close(pool.k[--pool.n]);
	free(pool.path);
	pool.path = NULL;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A reader of 'path': a kept one, else newly opened (NULL, err set). */
static struct mz_kdump *reader_get(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (pool.path && (strcmp(pool.path, path) || stat(path, &st) || !same_file(&st, &pool.st)))
		pool_clear();
	if (pool.n)
		return pool.k[--pool.n];
	return mz_kdump_open(path, err, errlen);
}

/* Keeps k for the next scan of 'path' (closes it when it cannot, or when a
 * read failed: see mz_kdump_failed). */
static void reader_put(const char *path, struct mz_kdump *k)
{
	struct stat st;

	if (!pool.path) {
		if (stat(path, &st) || !(pool.path = strdup(path))) {
			mz_kdump_close(k);
			return;
		}
		pool.st = st;
	}
	if (pool.n == POOL_MAX || strcmp(pool.path, path) || mz_kdump_failed(k)) {
		mz_kdump_close(k);
		return;
	}
	pool.k[pool.n++] = k;
}

/* -- scan() ---------------------------------------------------------------- */

static int u64_list(PyObject *it, uint64_t **out, size_t *n)
{
	PyObject *seq = PySequence_Fast(it, "owners must be iterable");
	Py_ssize_t i, len;

	*out = NULL;
	*n = 0;
	if (!seq)
		return -1;
	len = PySequence_Fast_GET_SIZE(seq);
	*out = calloc(len ? len : 1, sizeof(uint64_t));
	for (i = 0; *out && i < len; i++)
		(*out)[i] = PyLong_AsUnsignedLongLongMask(PySequence_Fast_GET_ITEM(seq, i));
	Py_DECREF(seq);
	if (!*out)
		return (PyErr_NoMemory(), -1);
	*n = len;
	return PyErr_Occurred() ? -1 : 0;
}

static PyObject *scan(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "prog", "layout", "base", "ranges", "owners",
				  "threads", "vmcore", NULL };
	PyObject *prog, *dec, *rlist, *owners, *names, *ret = NULL;
	unsigned long long base;
	int threads = 1, i, rc;
	double t0, t1, t2;
	const char *vmcore = NULL;
	struct mz_layout l;
	struct mz_range *ranges = NULL;
	struct mz_reader *readers = NULL;
	struct mz_kdump **kd = NULL;
	struct drgn_reader dr = { NULL, "", 0 };
	struct mz_scan_opts o = { NULL, 0, 0, 1 };
	struct mz_result res;
	uint64_t *own = NULL;
	Py_ssize_t nr = 0;
	(void)self;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOKOO|iz", kwlist, &prog, &dec,
					 &base, &rlist, &owners, &threads, &vmcore))
		return NULL;
	if (layout_from(dec, &l))
		return NULL;
	names = class_names;
	Py_INCREF(names);
	if (ranges_from(rlist, &ranges, &nr))
		goto out;
	if (owners == Py_None)
		o.all_owners = 1;
	else if (u64_list(owners, &own, &o.nowners))
		goto out;
	o.owners = own;
	if (!vmcore)
		threads = 1;
	if (threads < 1)
		threads = 1;
	readers = calloc(threads, sizeof(*readers));
	kd = calloc(threads, sizeof(*kd));
	if (!readers || !kd) {
		PyErr_NoMemory();
		goto out;
	}
	t0 = now();
	if (vmcore) {
		for (i = 0; i < threads; i++) {
			char err[512];

			kd[i] = reader_get(vmcore, err, sizeof(err));
			if (!kd[i]) {
				PyErr_SetString(PyExc_OSError, err);
				goto out;
			}
			readers[i].read = mz_kdump_read;
			readers[i].errmsg = mz_kdump_errmsg;
			readers[i].view = mz_kdump_view;
			readers[i].arg = kd[i];
		}
	} else {
		dr.read = PyObject_GetAttrString(prog, "read");
		if (!dr.read)
			goto out;
		readers[0].read = drgn_read;
		readers[0].errmsg = drgn_errmsg;
		readers[0].arg = &dr;
	}
	o.nthreads = threads;
	if (mz_result_init(&res)) {
		PyErr_NoMemory();
		goto out;
	}
	t1 = now();
	if (vmcore) {
		Py_BEGIN_ALLOW_THREADS
		rc = mz_scan(&l, base, readers, ranges, nr, &o, &res);
		Py_END_ALLOW_THREADS
	} else {
		rc = mz_scan(&l, base, readers, ranges, nr, &o, &res);
	}
	t2 = now();
	if (dr.fatal) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_RuntimeError, "prog.read failed");
	} else if (rc) {
		PyErr_NoMemory();
	} else {
		ret = result_dict(&res, names, t1 - t0, t2 - t1);
	}
	mz_result_free(&res);
out:
	for (i = 0; kd && i < threads; i++)
		if (kd[i])
			reader_put(vmcore, kd[i]);
	free(kd);
	free(readers);
	free(ranges);
	free(own);
	Py_XDECREF(dr.read);
	Py_DECREF(names);
	return ret;
}

static PyObject *kdump_read_py(PyObject *self, PyObject *args)
{
	const char *path;
	unsigned long long addr;
	Py_ssize_t len;
	char err[512];
	struct mz_kdump *k;
	PyObject *b;
	int rc;
	(void)self;

	if (!PyArg_ParseTuple(args, "sKn", &path, &addr, &len))
		return NULL;
	k = mz_kdump_open(path, err, sizeof(err));
	if (!k)
		return PyErr_Format(PyExc_OSError, "%s", err);
	b = PyBytes_FromStringAndSize(NULL, len);
	if (b) {
		Py_BEGIN_ALLOW_THREADS
		rc = mz_kdump_read(k, addr, PyBytes_AS_STRING(b), len);
		Py_END_ALLOW_THREADS
		if (rc) {
			PyErr_SetString(PyExc_OSError, mz_kdump_errmsg(k));
			Py_CLEAR(b);
		}
	}
	mz_kdump_close(k);
	return b;
}

static PyObject *close_readers(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	pool_clear();
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
	{ "scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS,
	  "scan(prog, layout, base, ranges, owners, threads=1, vmcore=None) -> dict" },
	{ "layout", layout_py, METH_O,
	  "layout(descriptor) -> dict: struct mz_layout as the scan gets it" },
	{ "close_readers", close_readers, METH_NOARGS,
	  "close_readers(): close the libkdumpfile readers kept open for the next scan" },
	{ "kdump_read", kdump_read_py, METH_VARARGS,
	  "kdump_read(path, kvaddr, length) -> bytes, through libkdumpfile" },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "memcg_zombies._scan",
	"The C page-scan engine (libhelper/).", -1, methods,
	/* No m_free closing the kept readers: at interpreter exit that
	 * crashed one run in ten (measured); the process's exit frees them. */
	NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__scan(void)
{
	PyObject *m = PyModule_Create(&module), *drgn, *names;
	unsigned c;

	if (!m)
		return NULL;
	names = PyTuple_New(MZ_NCLASS);
	for (c = 0; names && c < MZ_NCLASS; c++)
		PyTuple_SET_ITEM(names, c, PyUnicode_InternFromString(mz_class_name(c)));
	if (names) {
		class_names = names;
		Py_INCREF(names);
	}
	if (!names || PyModule_AddObject(m, "CLASSES", names)) {
		Py_XDECREF(names);
		Py_DECREF(m);
		return NULL;
	}
	drgn = PyImport_ImportModule("drgn");
	if (drgn) {
		FaultError = PyObject_GetAttrString(drgn, "FaultError");
		Py_DECREF(drgn);
	}
	PyErr_Clear();
	return m;
}
