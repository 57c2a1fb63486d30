"""
Faults
------

One guard for what a vmcore cannot give, in the manner of drgn's
``tools/fsrefs.py`` ``warn_on_fault``: the guarded reads stop, the error becomes
a :class:`~memcg_zombies.report.Fault` in the report's fault list, and the
analysis goes on.

    >>> with warn_on_fault(faults, f"cost of memcg {addr:#x}", addr) as caught:
    ...     size = read_something()
    >>> if caught: ...

One rule for what is caught. Inside a step of the analysis a guard catches
:data:`READ_ERRORS`, what reading a damaged, filtered or unexpected kernel's
memory raises:

- :class:`drgn.FaultError`: the memory is not in the dump (pages makedumpfile
  excluded, a truncated file, a corrupted pointer);
- :class:`LookupError` (``KeyError``, ``IndexError``): drgn's answer to a symbol,
  type or member the kernel lacks (``prog["x"]``, ``prog.type()``,
  ``Type.member()``), and an index a corrupted count sends out of range;
- :class:`AttributeError`: drgn's answer to ``obj.member`` on a struct without it;
- :class:`ValueError`: a value that makes no sense (a string without its NUL, a
  parent chain that loops, an object drgn cannot read as asked);
- :class:`TypeError`: drgn refusing an operation on an object of another kind than
  expected (a member of a non-struct, an index into a non-array), what a corrupted
  or unexpected type gives.

Anything else is a bug of the analyzer and goes up to the edge of its step (one
zombie's counters, one pinner), where the guard catches :data:`STEP_ERRORS`
(every ``Exception``): a bug must cost one part of the report, not the report.
"""

from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Tuple, Type, TypeVar

from drgn import FaultError

from memcg_zombies.report import Fault

__all__ = ("READ_ERRORS", "STEP_ERRORS", "Caught", "warn_on_fault", "guarded")

T = TypeVar("T")

#: What a read of the kernel's memory may raise (see the module's docstring).
READ_ERRORS: Tuple[Type[Exception], ...] = (FaultError, LookupError, AttributeError,
                                            ValueError, TypeError)
#: What the edge of one step of the analysis catches: anything.
STEP_ERRORS: Tuple[Type[Exception], ...] = (Exception,)


class Caught:
    """What a guard caught: false until it caught something."""

    error: Optional[BaseException] = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def warn_on_fault(faults: List[Fault], where: str, address: Optional[int] = None, *,
                  what: str = "", typed: bool = False,
                  catch: Tuple[Type[Exception], ...] = READ_ERRORS) -> Iterator[Caught]:
    """
    Turn an error of ``catch`` raised inside the block into ``Fault(where, message,
    address)`` appended to ``faults``. The message is the error's text, after
    ``"{what}: "`` when ``what`` names the part that failed, and after the error's
    type name when ``typed`` (what a step's edge says: the type names the bug).
    Yields a :class:`Caught`.
    """
    caught = Caught()
    try:
        yield caught
    except catch as e:
        caught.error = e
        text = f"{type(e).__name__}: {e}" if typed else str(e)
        faults.append(Fault(where, f"{what}: {text}" if what else text, address))


def guarded(faults: List[Fault], where: str, fn: Callable[[], T], default: T,
            address: Optional[int] = None, *, typed: bool = False,
            catch: Tuple[Type[Exception], ...] = READ_ERRORS) -> T:
    """``fn()``, or ``default`` after :func:`warn_on_fault` made its error a fault."""
    with warn_on_fault(faults, where, address, typed=typed, catch=catch):
        return fn()
    return default
