"""Typer builds each parameter's pydantic coercion only when a value needs it.

Typer (0.2x) coerces every command-line value through a pydantic ``TypeAdapter``, and builds
that adapter (importing pydantic, about 0.15 s of CPU) for every parameter it processes, even
an option that was not given and whose value is ``None``, which it then returns without ever
using the adapter. ``ledgerml status`` and ``ledgerml audit log`` mostly run with no option
at all, so they paid pydantic for nothing.

:func:`install` swaps the builder Typer's parameters call for one that returns a
:class:`DeferredCoercion`: a missing value (``None``) gets exactly the answer Typer's own
``RuntimeParam.coerce`` gives (``None``, or ``()`` for a multi-value parameter) without an
adapter; the first real value builds Typer's own coercion, which replaces the deferred one on
the parameter and handles that value and every later one. Coercion, messages and errors are
therefore Typer's own. If Typer's internals change shape, :func:`install` does nothing and
commands are only slower; ``tests/architecture`` notices, because ``status`` must then import
pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def install() -> bool:
    """Make Typer build parameter coercion lazily; return whether it could."""
    try:
        from typer import core as typer_core
        from typer._coercion import RuntimeParam, TypeDescriptor
    except ImportError:  # pragma: no cover - another Typer
        return False
    build: Any = getattr(typer_core, "build_runtime_param", None)
    param_cls = getattr(typer_core, "_TyperParameter", None)
    if build is None or param_cls is None or not hasattr(param_cls, "get_runtime_param"):
        return False  # pragma: no cover - another Typer
    if getattr(build, "deferred", False):
        return True

    @dataclass(frozen=True)
    class DeferredCoercion(RuntimeParam):
        """Typer's coercion for one parameter, built on the first value that is not None."""

        descriptor: TypeDescriptor

        def _real(self, param: Any) -> Any:
            real = build(self.descriptor)
            param._runtime_param = real  # later values go straight to Typer's own coercion
            return real

        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            if value is None:  # RuntimeParam.coerce's own answer, which needs no adapter
                return super().coerce(value, param, ctx)
            return self._real(param).coerce(value, param, ctx)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return self._real(param)._coerce_value(value, param, ctx)

    def deferred_build(descriptor: TypeDescriptor) -> Any:
        return DeferredCoercion(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )

    deferred_build.deferred = True  # type: ignore[attr-defined]
    setattr(typer_core, "build_runtime_param", deferred_build)  # noqa: B010  (private name)
    return True
