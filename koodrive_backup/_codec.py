"""The one cattrs converter: wire (camelCase JSON) <-> models (snake_case attrs classes).

Wire rules kept here and nowhere else:

- names: ``record_id`` <-> ``recordId``; ``device_os`` <-> ``deviceOS`` (reference §1.4);
- IDs and other strings: a JSON string as is, a JSON integer as its exact decimal string
  (``json.loads`` keeps big integers exact; a float is refused, never rounded);
- lock IDs (``lockId``): refused when they hold whitespace or a non-printable character
  (control, format, separator, lone surrogate). The SDK itself sends a lock ID back in a
  header and names it in log lines, so such a one is a ``DecodeError`` at ``create_lock``, not
  a ``ValueError`` (or a forged log line) later (API.md "Resilience options", hostile
  answers). Other IDs are data handed to the caller: the SDK never logs them raw (messages
  are escaped), the batch helpers only match answer IDs against the IDs sent, and an ID
  passed back as an argument is validated before any request. Checking them all here would
  cost every ``get_record`` ~700 instructions per ID for no further safety;
- integers: a JSON integer, or a string of ASCII digits (type drift, reference §12.2); never a
  float or a bool;
- timestamps: ISO-8601 (``2025-12-17T07:59:20.752Z``) -> aware ``datetime`` (naive -> UTC),
  or epoch milliseconds, which other KooDrive pages use: a JSON integer, an integral JSON
  number (``1.734422360752E12``, exact: any date up to year 9999 is below 2**53 ms) or a
  string of ASCII digits (optional ``-``) -> the same aware UTC ``datetime``. A digit string
  is always epoch milliseconds, never ISO basic format. A fraction of a millisecond is
  refused, not rounded (no KooDrive page writes one), and a bool is never a timestamp;
- enums: a known value -> the enum member, an unknown one -> the plain value;
- unknown fields are ignored (lenient client; the fake server is the strict side);
- lists must be JSON arrays (a string is never split into characters); ``null`` where a list
  belongs is the empty list, for every list field (reference §6.3: a batch answer with
  ``"failedScopeList": null`` failed nothing);
- ``failedScopeList`` may be a list or a single object (reference §6.3).

Whatever goes wrong while decoding (a wrong type, a date out of range, an exception nobody
foresaw) leaves ``structure`` as a ``ShapeError``, which the endpoints turn into a
``DecodeError``: server data never raises anything else.

Decoding runs a fast converter (``detailed_validation=False``); only when it fails is the
input decoded again with a detailed one, to name the failing wire field in the message.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import attrs
from cattrs import Converter
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._wire import (
    MODULES,
    STATUSES,
    ShapeError,
    id_hook,
    parse_timestamp,
    structure_int,
    structure_module,
    structure_optional_int,
    structure_optional_str,
    structure_optional_timestamp,
    structure_status,
    structure_str,
    wire_name,
)
from .models import ModuleCode, RecordStatus, ScopeFailure

__all__ = ["ShapeError", "structure", "structure_explained", "unstructure", "wire_name"]

T = TypeVar("T")


def _is_homogeneous_tuple(tp: object) -> bool:
    return get_origin(tp) is tuple and len(get_args(tp)) == 2 and get_args(tp)[1] is Ellipsis


def _tuple_hook(converter: Converter) -> Callable[[Any], Callable[[object, Any], tuple[Any, ...]]]:
    """``tuple[X, ...]`` from a JSON array, X's hook looked up once per type, not per item."""

    def factory(tp: Any) -> Callable[[object, Any], tuple[Any, ...]]:
        item_type = get_args(tp)[0]
        hook = converter.get_structure_hook(item_type)
        single_object_ok = item_type is ScopeFailure  # failedScopeList: one object (§6.3)

        def structure_tuple(value: object, _: Any) -> tuple[Any, ...]:
            if value is None:  # null where a list belongs: empty (API.md, hostile answers)
                return ()
            if single_object_ok and isinstance(value, Mapping):
                value = [value]
            if type(value) is not list:  # a JSON string is iterable too: never split it
                raise ShapeError(f"expected a list, got {type(value).__name__}")
            if item_type is str and list(map(type, value)).count(str) == len(value):
                return tuple(value)  # lists of IDs: the common case, checked at C speed
            return _each(hook, item_type, value)

        return structure_tuple

    return factory


def _each(hook: Callable[[Any, Any], Any], item_type: Any, items: list[Any]) -> tuple[Any, ...]:
    result = []
    for position, item in enumerate(items):
        try:
            result.append(hook(item, item_type))
        except (ShapeError, ValueError, TypeError, KeyError) as exc:
            raise ShapeError(_explain(exc, f"[{position}]")) from None
    return tuple(result)


def _is_plain_optional(tp: object) -> bool:
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and get_origin(tp) in (Union, UnionType)


def _optional_hook(converter: Converter) -> Callable[[Any], Callable[[object, Any], Any]]:
    """``X | None`` with X's hook looked up once, not on every call (halves decode time)."""

    def factory(tp: Any) -> Callable[[object, Any], Any]:
        inner = next(arg for arg in get_args(tp) if arg is not type(None))
        direct = _DIRECT_OPTIONALS.get(inner)
        if direct is not None:  # the common optional fields: one call, not two
            return direct
        hook = converter.get_structure_hook(inner)

        def structure_optional(value: object, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


_DIRECT_OPTIONALS: dict[object, Callable[[object, Any], Any]] = {
    str: structure_optional_str,
    int: structure_optional_int,
    datetime: structure_optional_timestamp,
}


def _unstructure_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _attrs_hooks(converter: Converter, *, detailed: bool) -> None:
    """Structure functions for attrs classes: cattrs' own where errors must be explained
    (the detailed converter), a generated one where speed matters (``_fast_structure_fn``)."""

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        if not detailed and _generated_ok(cls):
            return _fast_structure_fn(cls, converter)
        hints = get_type_hints(get_origin(cls) or cls)
        overrides = {
            a.name: override(
                rename=wire_name(a.name),
                struct_hook=id_hook(a.name, hints.get(a.name)),
            )
            for a in attrs.fields(cls)
        }
        return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        overrides = {
            a.name: override(rename=wire_name(a.name), omit_if_default=True)
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)


# --- the generated structure functions of the fast converter ---------------------------------
#
# cattrs' generated function reads each field into a dict and calls the class with **kwargs,
# one hook call per field. Ours reads ``o.get(wire)`` into locals, checks the common types
# inline (a ``type(v) is str`` test instead of a call) and builds the instance positionally:
# a record decodes in about two thirds of the time. The semantics are the converter's: a
# missing or ``null`` field takes its default (``None``; ``()`` for lists), a required one
# must be there, anything unusual goes to the same hooks; when it raises, the detailed
# converter (cattrs' own functions) decodes again to explain. tests/test_codec.py holds the
# two to the same answers.

#: field type -> how one value ``v`` of it is converted (names bound in ``_INLINE_NAMES``).
_INLINE: dict[object, str] = {
    str: "v if type(v) is str else _str(v, None)",
    int: "v if type(v) is int else _int(v, None)",
    # The usual timestamp ("2025-12-17T07:59:20.752Z") straight to fromisoformat (aware by its
    # Z); anything else (no Z, epoch ms, garbage) through parse_timestamp.
    datetime: '_iso(v) if type(v) is str and len(v) > 15 and v[-1] == "Z" else _ts(v)',
    ModuleCode | str | None: "_modules.get(v, v) if type(v) is str else _module(v, None)",
    RecordStatus | int | None: "_statuses.get(v, v) if type(v) is int else _status(v, None)",
}
_INLINE_NAMES = {
    "_missing": object(),
    "_str": structure_str,
    "_int": structure_int,
    "_ts": parse_timestamp,
    "_iso": datetime.fromisoformat,
    "_modules": MODULES,
    "_module": structure_module,
    "_statuses": STATUSES,
    "_status": structure_status,
}


def _generated_ok(cls: type[Any]) -> bool:
    """Plain attrs classes whose every field is set positionally by ``__init__``."""
    if get_origin(cls) is not None:
        return False  # generic aliases (Page[X]) keep cattrs' function
    return all(a.init and not a.kw_only and a.alias == a.name for a in attrs.fields(cls))


def _fast_structure_fn(cls: type[Any], converter: Converter) -> Callable[[Any, Any], Any]:
    hints = get_type_hints(cls)
    names: dict[str, Any] = {"__cl": cls, **_INLINE_NAMES}
    lines = [f"def structure_{cls.__name__}(o, _):", "    g = o.get"]
    for n, field in enumerate(attrs.fields(cls)):
        convert = _conversion(field.name, hints[field.name], n, names, converter)
        wire = wire_name(field.name)
        if field.default is attrs.NOTHING:
            lines.append(f"    v = o[{wire!r}]; a{n} = {convert}")
            continue
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            names[f"__f{n}"], fallback = default.factory, f"__f{n}()"
        else:
            names[f"__d{n}"], fallback = default, f"__d{n}"
        if _null_is_default(hints[field.name], default):
            lines.append(f"    v = g({wire!r}); a{n} = {fallback} if v is None else {convert}")
        else:  # only a missing field takes the default; null is converted like any value
            lines.append(
                f"    v = g({wire!r}, _missing); a{n} = {fallback} if v is _missing else {convert}"
            )
    arguments = ", ".join(f"a{n}" for n in range(len(attrs.fields(cls))))
    lines.append(f"    return __cl({arguments})")
    return _compile("\n".join(lines), f"structure_{cls.__name__}", names)


def _null_is_default(tp: Any, default: object) -> bool:
    """Whether ``null`` decodes to the field's default: ``None`` of an optional field, ``()``
    of a list (the converter's hooks give the same, one call later)."""
    if default is None:
        return _is_plain_optional(tp) or tp in (ModuleCode | str | None, RecordStatus | int | None)
    return default == () and _is_homogeneous_tuple(tp)


def _conversion(name: str, tp: Any, n: int, names: dict[str, Any], converter: Converter) -> str:
    """The expression that converts ``v`` (not ``None``) for a field of type ``tp``."""
    special = id_hook(name, tp)
    if special is not None:
        names[f"__h{n}"] = special
        return f"__h{n}(v, None)"
    inline = _INLINE.get(tp)
    if inline is None and _is_plain_optional(tp):  # None is taken care of by the default
        tp = next(arg for arg in get_args(tp) if arg is not type(None))
        inline = _INLINE.get(tp)
    if inline is not None:
        return inline
    names[f"__h{n}"], names[f"__t{n}"] = converter.get_structure_hook(tp), tp
    return f"__h{n}(v, __t{n})"


def _compile(source: str, name: str, names: dict[str, Any]) -> Callable[[Any, Any], Any]:
    filename = f"<koodrive_backup generated {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), names)  # our own text, from attrs metadata only
    function: Callable[[Any, Any], Any] = names[name]
    return function


def _make_converter(*, detailed: bool) -> Converter:
    converter = Converter(detailed_validation=detailed, prefer_attrib_converters=False)
    converter.register_structure_hook(str, structure_str)
    converter.register_structure_hook(int, structure_int)
    converter.register_structure_hook(datetime, parse_timestamp)
    converter.register_structure_hook(RecordStatus | int | None, structure_status)
    converter.register_structure_hook(ModuleCode | str | None, structure_module)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook(converter))
    converter.register_structure_hook_factory(_is_plain_optional, _optional_hook(converter))
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_unstructure_hook(ModuleCode, lambda member: member.value)
    _attrs_hooks(converter, detailed=detailed)
    return converter


#: What the fast converter raises for data of the wrong shape (it does not wrap errors).
_SHAPE_PROBLEMS = (ValueError, TypeError, KeyError, AttributeError, IndexError)
_fast = _make_converter(detailed=False)
_detailed = _make_converter(detailed=True)
_FAST_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {}


def structure(data: object, cls: type[T]) -> T:
    """Decode wire data into ``cls``; raise ``ShapeError`` naming the offending wire field."""
    if type(data) is not dict and not isinstance(data, Mapping) and attrs.has(cls):
        raise ShapeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hook = _FAST_HOOKS.get(cls)
    if hook is None:  # cattrs' dispatch, once per class rather than once per answer
        hook = _FAST_HOOKS[cls] = _fast.get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except _SHAPE_PROBLEMS:
        return structure_explained(data, cls)  # slowly, to name the wire field


def structure_explained(data: object, cls: type[T]) -> T:
    """``structure`` with cattrs' own (detailed, slower) functions: what explains a failure
    of the fast path, and the reference the generated functions are tested against."""
    if type(data) is not dict and not isinstance(data, Mapping) and attrs.has(cls):
        raise ShapeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    try:
        return _detailed.structure(data, cls)
    except Exception as exc:  # server data: whatever it breaks is a shape problem (docstring)
        raise ShapeError(_explain(exc, cls.__name__)) from None


def unstructure(obj: object) -> Any:
    """Encode a model as wire data (camelCase keys, ISO timestamps, defaults omitted)."""
    return _fast.unstructure(obj)


def _explain(exc: BaseException, where: str) -> str:
    """Turn a cattrs error tree into 'BackupRecord.createTime: not an ISO-8601 timestamp'."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            name = getattr(note, "name", None)
            step = f".{wire_name(name)}" if isinstance(name, str) else f"[{note.index}]"
            return _explain(sub, where + step)
        if others:
            return _explain(others[0], where)
    if isinstance(exc, KeyError):
        return f"{where}: missing required field"
    detail = str(exc) or type(exc).__name__
    return f"{where}: {detail}"
