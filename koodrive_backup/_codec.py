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

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import attrs
from cattrs import Converter
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .errors import one_line
from .models import ModuleCode, RecordStatus, ScopeFailure

__all__ = ["ShapeError", "structure", "unstructure", "wire_name"]

T = TypeVar("T")

_SPECIAL_NAMES = {"device_os": "deviceOS"}
_DIGITS = re.compile(r"-?[0-9]+\Z")


class ShapeError(ValueError):
    """The data does not have the documented shape; the message names the wire field.

    Its text is one printable line, like a ``KooDriveError``'s: it may quote server data.
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


def wire_name(python_name: str) -> str:
    """``record_id`` -> ``recordId`` (and the reference's one irregular name, ``deviceOS``)."""
    special = _SPECIAL_NAMES.get(python_name)
    if special is not None:
        return special
    head, *rest = python_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value if type(value) is str else str.__str__(value)
    if type(value) is int:  # exact: Python ints are unbounded, never a float on the way
        return str(value)
    raise ShapeError(f"expected a string, got {type(value).__name__}")


def _structure_optional_str(value: object, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    return _structure_str(value, None)


def _structure_optional_int(value: object, _: object) -> int | None:
    if value is None or type(value) is int:
        return value
    return _structure_int(value, None)


def _structure_optional_timestamp(value: object, _: object) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def _structure_int(value: object, _: object) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _DIGITS.match(value):
        return int(value)
    raise ShapeError(f"expected an integer, got {type(value).__name__}")


def parse_timestamp(value: object, _: object = None) -> datetime:
    """ISO-8601 text or epoch milliseconds (a number or a digit string) -> aware UTC datetime."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _from_epoch_text(value)
        # fromisoformat also takes some digit strings ("20251217", "2025121711": basic format,
        # at most 15 characters), which are epoch ms here. A date with a time is longer: the
        # usual timestamp pays one len(), not an isdigit() (~300 instructions, x3 a record).
        if len(value) < 16 and value.isdigit():
            return _from_epoch_text(value)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if type(value) is int:
        return _from_epoch_ms(value)
    if type(value) is float and value.is_integer():  # 1.765958360752E12: exact, see above
        return _from_epoch_ms(int(value))
    raise ShapeError(f"expected a timestamp (ISO-8601 or epoch ms), got {_number_or_type(value)}")


def _from_epoch_text(text: str) -> datetime:
    if _DIGITS.match(text):  # ASCII digits, optional "-"
        return _from_epoch_ms(text)
    raise ShapeError(f"not an ISO-8601 timestamp nor epoch milliseconds: {text[:40]!r}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_epoch_ms(value: int | str) -> datetime:
    """Exact integer arithmetic: no float rounding of the milliseconds."""
    try:
        return _EPOCH + timedelta(milliseconds=int(value))
    except (OverflowError, ValueError):  # beyond year 1..9999, or a 4,300+ digit string
        raise ShapeError("epoch milliseconds out of range") from None


def _number_or_type(value: object) -> str:
    return "a non-integral number" if type(value) is float else type(value).__name__


def _structure_id(value: object, _: object) -> str:
    text = value if type(value) is str else _structure_str(value, None)
    if text.isprintable() and " " not in text:
        return text
    raise ShapeError(f"an ID must not hold whitespace or control characters: {text[:40]!r}")


def _id_hook(name: str, tp: object) -> Callable[[Any, Any], Any] | None:
    """The checked hook of a lock ID field (see the module docstring), else ``None``."""
    return _structure_id if name == "lock_id" and tp is str else None


# Enum members by value: a dict lookup costs ~50 ns, calling the Enum class ~1 µs.
_STATUSES: dict[int, RecordStatus] = {member.value: member for member in RecordStatus}
_MODULES: dict[str, ModuleCode] = {member.value: member for member in ModuleCode}


def _structure_status(value: object, _: object) -> RecordStatus | int | None:
    if value is None:
        return None
    number = _structure_int(value, None)
    return _STATUSES.get(number, number)


def _structure_module(value: object, _: object) -> ModuleCode | str | None:
    if value is None:
        return None
    text = _structure_str(value, None)
    return _MODULES.get(text, text)


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
    str: _structure_optional_str,
    int: _structure_optional_int,
    datetime: _structure_optional_timestamp,
}


def _unstructure_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _attrs_hooks(converter: Converter) -> None:
    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        hints = get_type_hints(get_origin(cls) or cls)
        overrides = {
            a.name: override(
                rename=wire_name(a.name),
                struct_hook=_id_hook(a.name, hints.get(a.name)),
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


def _make_converter(*, detailed: bool) -> Converter:
    converter = Converter(detailed_validation=detailed, prefer_attrib_converters=False)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(datetime, parse_timestamp)
    converter.register_structure_hook(RecordStatus | int | None, _structure_status)
    converter.register_structure_hook(ModuleCode | str | None, _structure_module)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook(converter))
    converter.register_structure_hook_factory(_is_plain_optional, _optional_hook(converter))
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_unstructure_hook(ModuleCode, lambda member: member.value)
    _attrs_hooks(converter)
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
        pass  # decoded again below, slowly, to name the wire field in the message
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
