"""The registry of event kinds: each kind of state change, defined once.

An event kind is its action name, its typed payload, the projector handler that folds it
into the catalog and the catalog tables that handler writes. A context declares its kinds in
its own ``events`` module with :func:`event_kind`; everything that used to repeat action
strings reads this registry instead:

- the projector dispatches on it (:func:`core.kernel.projector.project`);
- ``audit verify`` replays exactly the kinds with tables and compares those tables;
- a bundle's ledger excerpt always carries the kinds marked ``in_every_bundle``;
- the coverage checklist asks which kinds answer which regulator item (``evidence_for``).

The kernel imports no context, so the contexts' ``events`` modules are named here, in
:data:`KIND_MODULES`, and imported by :func:`registry` on first use. Adding an event kind with
its own table touches its context's ``events`` module and the table's declaration in
:mod:`core.kernel.records` (the schema and typed rows are generated; the schema version
follows from the generated DDL, so no migration is written).

Example::

    @dataclass(frozen=True)
    class ActorAdded(Payload):
        name: str
        roles: list[str]

    @event_kind("actor.add", ActorAdded, tables=("actors",), in_every_bundle=True)
    def _actor_add(cat: Catalog, seq: int, body: Body, data: ActorAdded) -> None:
        ...
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from core.kernel.catalog import Catalog
from core.kernel.events import Event, ObjectRef

Body = dict[str, Any]

# The contexts' modules that declare event kinds, in dependency order.
KIND_MODULES = (
    "core.identity.events",
    "core.governance.events",
    "core.data.events",
    "core.modelling.events",
    "core.evidence.events",
    "core.operations.events",
    "core.operations.decision_events",
    "core.operations.serving_events",
    "core.operations.monitor_events",
    "core.operations.pipeline_events",
    "core.privacy.events",
    "core.documents.events",
    "core.audit.events",
)


class Payload:
    """Base of typed event payloads: a frozen dataclass whose JSON is the event's ``data``.

    ``to_data`` drops fields that are ``None`` when the field is declared optional with a
    ``None`` default, so events written before a field existed keep their exact bytes; and
    ``from_data`` refuses keys the payload does not declare, so a forged or garbled event is
    reported instead of half-read. A field typed as another payload (or ``X | None``) is
    decoded into it, so nested records (a key, a run's input) are typed too.
    """

    OMIT_NONE: ClassVar[bool] = True

    def to_data(self) -> dict[str, Any]:
        """The event's ``data`` member (canonical JSON is applied by :class:`Event`)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and self.OMIT_NONE and f.default is None:
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_data(cls: type[P], data: Mapping[str, Any]) -> P:
        """Read an event's ``data`` back (``KeyError``/``TypeError`` for a malformed one)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"event data is {type(data).__name__}, not an object")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise KeyError(f"unknown payload keys {sorted(unknown)}")
        nested = _nested_fields(cls)
        return cls(
            **{
                k: nested[k].from_data(v) if k in nested and v is not None else v
                for k, v in data.items()
            }
        )


P = TypeVar("P", bound=Payload)


_NESTED: dict[type[Any], dict[str, type[Payload]]] = {}


def _nested_fields(cls: type[Payload]) -> dict[str, type[Payload]]:
    """The fields of ``cls`` declared as a payload type (cached: hints resolve once)."""
    found = _NESTED.get(cls)
    if found is None:
        found = {}
        for name, hint in typing.get_type_hints(cls).items():
            options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
            for option in options:
                if isinstance(option, type) and issubclass(option, Payload):
                    found[name] = option
        _NESTED[cls] = found
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, Payload):
        return value.to_data()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


Handler = Callable[[Catalog, int, Body, Any], None]


@dataclass(frozen=True)
class EventKind(Generic[P]):
    """One kind of state change: what it is called, carries, and writes."""

    action: str
    payload: type[P]
    project: Handler | None
    tables: tuple[str, ...] = ()
    in_every_bundle: bool = False
    evidence_for: tuple[str, ...] = ()
    context: str = ""
    roles: tuple[str, ...] = ()
    """Who may record it: an actor holding one of these roles (empty: any active actor).
    The command's guard and ``audit verify`` both read this, so they cannot disagree."""
    authority: bool = False
    """It changes actors, roles or keys: later events' ``auth`` pointers lead to it."""
    rule: Callable[[Any], tuple[str, ...]] | None = None
    """The roles one event needs, from its payload, when they depend on what it records."""

    def roles_for(self, data: Any) -> tuple[str, ...]:
        """The roles that may record this event (empty: any active actor)."""
        return self.rule(data) if self.rule is not None else self.roles

    def decode(self, body: Body) -> P:
        """The typed payload of an event body of this kind."""
        return self.payload.from_data(body["data"])


_KINDS: dict[str, EventKind[Any]] = {}
_loaded = False


def event_kind(
    action: str,
    payload: type[P],
    *,
    tables: tuple[str, ...] = (),
    in_every_bundle: bool = False,
    evidence_for: tuple[str, ...] = (),
    roles: tuple[str, ...] = (),
    authority: bool = False,
    rule: Callable[[Any], tuple[str, ...]] | None = None,
) -> Callable[[Callable[[Catalog, int, Body, P], None]], Callable[[Catalog, int, Body, P], None]]:
    """Register an event kind with its projector handler (a decorator on the handler)."""

    def register(
        fn: Callable[[Catalog, int, Body, P], None],
    ) -> Callable[[Catalog, int, Body, P], None]:
        declare(
            action,
            payload,
            project=fn,
            tables=tables,
            in_every_bundle=in_every_bundle,
            evidence_for=evidence_for,
            context=fn.__module__,
            roles=roles,
            authority=authority,
            rule=rule,
        )
        return fn

    return register


def declare(
    action: str,
    payload: type[P],
    *,
    project: Handler | None = None,
    tables: tuple[str, ...] = (),
    in_every_bundle: bool = False,
    evidence_for: tuple[str, ...] = (),
    context: str = "",
    roles: tuple[str, ...] = (),
    authority: bool = False,
    rule: Callable[[Any], tuple[str, ...]] | None = None,
) -> EventKind[P]:
    """Register a kind; one with no handler only enters the event index (e.g. exports)."""
    if action in _KINDS and _KINDS[action].context != context:
        raise RuntimeError(f"event kind {action!r} is declared twice")
    kind = EventKind(
        action,
        payload,
        project,
        tables,
        in_every_bundle,
        evidence_for,
        context,
        roles,
        authority,
        rule,
    )
    _KINDS[action] = kind
    return kind


def registry() -> Mapping[str, EventKind[Any]]:
    """Every declared event kind by action, after importing the contexts' event modules."""
    global _loaded
    if not _loaded:
        for name in KIND_MODULES:
            importlib.import_module(name)
        _loaded = True
    return _KINDS


def kind(action: str) -> EventKind[Any] | None:
    """The kind of an action, or None for one no context declares."""
    return registry().get(action)


def state_tables() -> tuple[str, ...]:
    """Every catalog table some kind's handler writes (what verify compares).

    In declaration order (contexts as in :data:`KIND_MODULES`), with the tables kinds of
    several contexts write (the lineage ``edges``) last: verify names the first table that
    differs, and a context's own table says more about an edit than the shared one.
    """
    writers: dict[str, set[str]] = {}
    ranked = sorted(registry().values(), key=lambda k: _module_rank(k.context))
    for k in ranked:  # sorted is stable: declaration order within a module
        for t in k.tables:
            writers.setdefault(t, set()).add(k.context.rsplit(".", 1)[0])
    own = [t for t, ctx in writers.items() if len(ctx) == 1]
    return tuple(own + [t for t, ctx in writers.items() if len(ctx) > 1])


def _module_rank(context: str) -> int:
    """Where a kind's module stands in :data:`KIND_MODULES` (import order must not matter)."""
    return KIND_MODULES.index(context) if context in KIND_MODULES else len(KIND_MODULES)


def projected() -> tuple[str, ...]:
    """The actions with a projector handler, sorted (the events verify replays)."""
    return tuple(sorted(a for a, k in registry().items() if k.project is not None))


def always_in_bundle() -> tuple[str, ...]:
    """The actions every bundle's ledger excerpt carries (keys, actors, exports), sorted."""
    return tuple(sorted(a for a, k in registry().items() if k.in_every_bundle))


def evidence_for(item: str) -> tuple[str, ...]:
    """The declared actions whose events answer a coverage checklist item, sorted."""
    return tuple(sorted(a for a, k in registry().items() if item in k.evidence_for))


def authority_actions() -> tuple[str, ...]:
    """The actions that change actors, roles or keys, sorted."""
    return tuple(sorted(a for a, k in registry().items() if k.authority))


def action_of(payload: Payload) -> str:
    """The action of the one kind whose payload type ``payload`` is."""
    found = [a for a, k in registry().items() if k.payload is type(payload)]
    if len(found) != 1:
        raise RuntimeError(f"{type(payload).__name__} is the payload of {len(found)} kinds")
    return found[0]


def new_event(
    actor: str,
    payload: Payload,
    subjects: list[str],
    reason: str = "",
    objects: list[ObjectRef] | None = None,
) -> Event:
    """The event recording ``payload``: its action from the registry, its data typed."""
    return Event(actor, action_of(payload), subjects, payload.to_data(), reason, objects or [])
