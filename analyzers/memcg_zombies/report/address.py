"""Kernel addresses in reprs: ``0xffff888003d4c000``, as a kernel engineer reads them."""

from dataclasses import fields
from typing import Any

__all__ = ("HexRepr",)


class HexRepr:
    """A dataclass mixin (with ``@dataclass(repr=False)``): the repr shows the
    ``address`` field in hex, the others as the dataclass repr would."""

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value: Any = getattr(self, f.name)
            text = hex(value) if f.name == "address" and isinstance(value, int) else repr(value)
            parts.append(f"{f.name}={text}")
        return f"{type(self).__qualname__}({', '.join(parts)})"
