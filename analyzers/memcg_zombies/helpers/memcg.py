"""A memcg's identity: counters as the kernel reads them, the private id, the
hierarchy it is on."""

from typing import Optional, Tuple

from drgn import Object

from memcg_zombies.layout import layout

__all__ = ("atomic_read", "refcount_read", "memcg_private_id", "memcg_hierarchy")


def atomic_read(v: Object) -> int:
    """``atomic_read()`` / ``atomic_long_read()``."""
    return v.counter.value_()


def refcount_read(v: Object) -> int:
    """``refcount_read()`` (refcount_t wraps an atomic_t, v4.11+)."""
    return v.refs.counter.value_()


def memcg_private_id(memcg: Object) -> Optional[Tuple[int, int]]:
    """``(memcg->id.id, memcg->id.ref)``, the id swap records and the
    references it holds; None before v4.8 (no memcg->id)."""
    refs = layout(memcg.prog_).refs
    if refs.memcg_id_type is None:
        return None
    ident = memcg.id
    ref = (refcount_read(ident.ref) if refs.memcg_id_ref == "refcount_t"
           else atomic_read(ident.ref))
    return ident.id.value_(), ref


def memcg_hierarchy(memcg: Object) -> Optional[str]:
    """"cgroup2" when the memcg's cgroup is on the default hierarchy, else
    "cgroup1"; None without cgroup v2 (cgrp_dfl_root). A fault is raised."""
    try:
        dfl = memcg.prog_["cgrp_dfl_root"].address_of_().value_()
    except KeyError:
        return None
    return "cgroup2" if memcg.css.cgroup.root.value_() == dfl else "cgroup1"
