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

from memcg_zombies.layout import Layout, layout
from memcg_zombies.report import Fault, Pin

__all__ = ("Pin", "Context", "pinner", "collect", "PINNERS")


class Context:
    """What every visitor needs: the program, its layout, the memcgs of interest
    (address -> ``struct mem_cgroup *``), every memcg, and the fault list."""

    def __init__(self, prog: Program, zombies: Dict[int, Object], memcgs: Dict[int, Object],
                 faults: List[Fault], scanner: Optional[str] = None) -> None:
        self.prog = prog
        self.layout: Layout = layout(prog)
        self.zombies = zombies
        self.memcgs = memcgs
        self.faults = faults
        #: Which page-scan engine to use ("python", "c" or None for the best available).
        self.scanner = scanner
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
        try:
            for addr, pin in visit(ctx):
                pins.setdefault(addr, []).append(pin)
        except Exception as e:  # a visitor bug must not lose the other pinners
            ctx.fault(f"pinner {name}", f"{type(e).__name__}: {e}")
    return pins
