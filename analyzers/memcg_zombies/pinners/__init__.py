"""
What pins a dying memcg
-----------------------

One visitor per kind of referrer, in the manner of drgn's ``tools/fsrefs.py``: each
walks one kernel structure, is fault-tolerant (what it cannot read becomes a
:class:`~memcg_zombies.report.Fault`, never an exception), and says in a comment which
config option or kernel commit explains its absence on a kernel that lacks it.

A visitor is a function ``visit(ctx) -> Iterator[Tuple[int, Pin]]`` registered with
:func:`pinner`; it yields ``(memcg address, Pin)`` (one of the typed pins of
:mod:`memcg_zombies.report.pins`) for memcgs in ``ctx.zombies`` (it may
skip others). :func:`collect` runs them all.
"""

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from drgn import Object, Program

from memcg_zombies.faults import STEP_ERRORS, warn_on_fault
from memcg_zombies.layout import Layout, layout
from memcg_zombies.report import Fault, Pin
from memcg_zombies.scan import PageScan, ScanOptions

__all__ = ("Pin", "Context", "pinner", "collect", "PINNERS")


class Context:
    """What every visitor needs: the program, its layout, the memcgs of interest
    (address -> ``struct mem_cgroup *``), every memcg, the fault list and how to
    scan the memmap."""

    def __init__(self, prog: Program, zombies: Dict[int, Object], memcgs: Dict[int, Object],
                 faults: List[Fault], scan_options: ScanOptions = ScanOptions()) -> None:
        self.prog = prog
        self.layout: Layout = layout(prog)
        self.zombies = zombies
        self.memcgs = memcgs
        self.faults = faults
        #: How the page scan runs (engine, reader, threads, vmcore).
        self.scan_options = scan_options
        #: The page scan, once a visitor ran it (:func:`memcg_zombies.pinners.pages.page_scan`);
        #: it carries how it ran (:meth:`PageScan.metadata`).
        self.page_scan: Optional[PageScan] = None
        self._cache: Dict[str, Any] = {}

    def fault(self, where: str, error: object, address: Optional[int] = None) -> None:
        self.faults.append(Fault(where, str(error), address))

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """Share an expensive walk (the page scan) between visitors."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


PinVisitor = Callable[[Context], Iterator[Tuple[int, Pin]]]
PINNERS: List[Tuple[str, PinVisitor]] = []


def pinner(name: str) -> Callable[[PinVisitor], PinVisitor]:
    def register(fn: PinVisitor) -> PinVisitor:
        PINNERS.append((name, fn))
        return fn
    return register


def collect(ctx: Context) -> Dict[int, List[Pin]]:
    """Run every visitor; a visitor that fails outright becomes one fault."""
    import memcg_zombies.pinners.all  # noqa: F401  (registers the visitors)

    pins: Dict[int, List[Pin]] = {addr: [] for addr in ctx.zombies}
    for name, visit in PINNERS:
        # Each visitor is a step: a bug in one must not lose the other pinners.
        with warn_on_fault(ctx.faults, f"pinner {name}", typed=True, catch=STEP_ERRORS):
            for addr, pin in visit(ctx):
                pins.setdefault(addr, []).append(pin)
    return pins
