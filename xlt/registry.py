"""Typed registries: tasks, methods and strategies are units found by name.

A unit registers itself with a decorator in its own module; a package's registry imports every module
of the package once (`discover`), so adding a unit is adding one file. A name that is not registered
is one XltError listing the valid names and the nearest one.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Generic, Iterator, TypeVar

from xlt.errors import XltError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> unit. `package` (a dotted module path) is imported module by module on first use."""

    def __init__(self, kind: str, package: str | None = None, instances: bool = False):
        self.kind = kind
        self.package = package
        self.instances = instances  # register(cls) keeps one instance of cls (stateless units: tasks, strategies)
        self._items: dict[str, T] = {}
        self._discovered = package is None

    def register(self, unit):
        """Class decorator: registers the class (or, for a registry of instances, one instance of it) under
        its `name` attribute."""
        name = getattr(unit, "name")
        if name in self._items:
            raise RuntimeError(f"two {self.kind}s named {name!r}")
        self._items[name] = unit() if self.instances else unit
        return unit

    def _discover(self) -> None:
        if not self._discovered:
            self._discovered = True  # before importing: a module may look names up while it registers
            pkg = importlib.import_module(self.package)
            for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{mod.name}")

    def items(self) -> dict[str, T]:
        self._discover()
        return dict(self._items)

    def names(self) -> list[str]:
        return list(self.items())

    def __contains__(self, name: object) -> bool:
        return name in self.items()

    def __iter__(self) -> Iterator[T]:
        return iter(self.items().values())

    def __len__(self) -> int:
        return len(self.items())

    def get(self, name: str) -> T:
        items = self.items()
        if name not in items:
            raise XltError(unknown_name(self.kind, name, list(items)))
        return items[name]


def unknown_name(kind: str, name: object, valid: list[str]) -> str:
    """"unknown method 'lorra'; did you mean 'lora'? valid: full, lora, ..." """
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (valid: {', '.join(valid)})"
