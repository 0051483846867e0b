"""Lazy public names for a package: each is imported on first use (PEP 562), so importing
the package costs nothing. Shared by ``tlsmatrix`` and ``tlsmatrix.lab``."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_names(
    package: str, table: Mapping[str, str], namespace: dict[str, object]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``. ``table`` maps a public name to the
    module that defines it, or to "" for a sub-module of that name; a loaded name is stored
    in ``namespace`` (the package's globals) so the next look-up is direct."""

    def __getattr__(name: str) -> object:  # noqa: N807 (the module hook's own name)
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        if not module:
            return importlib.import_module(f"{package}.{name}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *table})

    return __getattr__, __dir__
