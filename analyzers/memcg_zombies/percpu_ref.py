"""
Per-CPU reference counts
------------------------

Reading ``struct percpu_ref`` (:linux:`include/linux/percpu-refcount.h`) from
a dump. Both layouts are handled:

- before v5.10: ``{ atomic_long_t count; unsigned long percpu_count_ptr;
  release; confirm_switch; ... }``
- v5.10+ (2b0d3d3e4fcf): ``{ unsigned long percpu_count_ptr;
  struct percpu_ref_data *data; }`` with ``count`` and ``confirm_switch`` in
  ``data``.

The low two bits of ``percpu_count_ptr`` are ``__PERCPU_REF_ATOMIC`` and
``__PERCPU_REF_DEAD``; a killed ref (a dying css) shows both.
"""

from typing import NamedTuple, Optional

from drgn import Object
from drgn.helpers.linux.percpu import per_cpu_ptr

from memcg_zombies.cpus import possible_cpus
from memcg_zombies.layout import layout

__all__ = (
    "PERCPU_REF_ATOMIC",
    "PERCPU_REF_DEAD",
    "PercpuRef",
    "percpu_ref_flags",
    "percpu_ref_is_dying",
    "percpu_ref_read",
)

PERCPU_REF_ATOMIC = 1
PERCPU_REF_DEAD = 2
_FLAG_BITS = 2
_FLAG_MASK = (1 << _FLAG_BITS) - 1


class PercpuRef(NamedTuple):
    """A decoded ``struct percpu_ref``."""

    # (count shadows tuple.count(), which mypy reports as an incompatible override;
    # NamedTuple allows it at runtime and renaming the field would change the API.)
    #: The reference count; None if it could not be computed.
    count: Optional[int]  # type: ignore[assignment]
    #: ``__PERCPU_REF_ATOMIC`` is set.
    atomic: bool
    #: ``__PERCPU_REF_DEAD`` is set (percpu_ref_kill() was called).
    dead: bool
    #: "percpu", "atomic", "switching" (to atomic, per-CPU counts not yet
    #: folded in), "exited" (after percpu_ref_exit()) or "unused" (all
    #: zero: never initialised, as for CSS_NO_REF css).
    mode: str


def percpu_ref_flags(ref: Object) -> int:
    """The ``__PERCPU_REF_*`` bits of a ``struct percpu_ref``."""
    return ref.percpu_count_ptr.value_() & _FLAG_MASK


def percpu_ref_is_dying(ref: Object) -> bool:
    """Like the kernel's percpu_ref_is_dying(): whether DEAD is set."""
    return bool(percpu_ref_flags(ref) & PERCPU_REF_DEAD)


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def percpu_ref_read(ref: Object, sum_percpu: bool = True) -> PercpuRef:
    """
    Decode a ``struct percpu_ref`` and compute its count.

    In per-CPU mode the count is ``count - PERCPU_COUNT_BIAS + sum of the
    per-CPU counters`` modulo 2**BITS_PER_LONG, as
    percpu_ref_switch_to_atomic_rcu() would fold it. That costs one read per
    possible CPU; pass ``sum_percpu=False`` to get ``count=None`` instead.
    """
    lay = layout(ref.prog_)
    bits = lay.cgroup.bits_per_long
    bias = 1 << (bits - 1)  # PERCPU_COUNT_BIAS
    ptr = ref.percpu_count_ptr.value_()
    flags = ptr & _FLAG_MASK
    atomic = bool(flags & PERCPU_REF_ATOMIC)
    dead = bool(flags & PERCPU_REF_DEAD)

    if lay.cgroup.percpu_ref_data:
        data = ref.data.read_()
        if not data and not ptr:
            # Never initialised, e.g. the root css (CSS_NO_REF).
            return PercpuRef(None, False, False, "unused")
        if not data:
            # percpu_ref_exit() (v5.10+) folds the count into the pointer
            # word: percpu_count_ptr |= count << __PERCPU_REF_FLAG_BITS.
            return PercpuRef(_signed(ptr >> _FLAG_BITS, bits), atomic, dead, "exited")
        count = data.count.counter.value_()
        confirm_switch = data.confirm_switch.value_()
    else:
        count = ref.count.counter.value_()
        confirm_switch = ref.confirm_switch.value_()
        if not ptr & ~_FLAG_MASK and atomic and dead and not confirm_switch:
            # Before v5.10 percpu_ref_exit() only frees the per-CPU area
            # and leaves count in place.
            return PercpuRef(_signed(count, bits), atomic, dead, "exited")

    if atomic and not confirm_switch:
        # Atomic mode and the switch has completed: count is exact.
        return PercpuRef(_signed(count, bits), atomic, dead, "atomic")

    # Per-CPU mode, or a switch to atomic still waiting for its RCU grace
    # period: the bias is still in count and the per-CPU counters not yet
    # folded in.
    mode = "switching" if atomic else "percpu"
    if not sum_percpu:
        return PercpuRef(None, atomic, dead, mode)
    percpu = Object(ref.prog_, "unsigned long *", ptr & ~_FLAG_MASK)
    total = count - bias
    for cpu in possible_cpus(ref.prog_):
        total += per_cpu_ptr(percpu, cpu)[0].value_()
    return PercpuRef(_signed(total, bits), atomic, dead, mode)
