"""Typed TOML tables: frozen dataclasses whose fields carry their documentation and limits, a
converter from parsed TOML that reports every problem with its key path (and a did-you-mean for
unknown keys), and the JSON Schema and Markdown reference generated from the same fields.

Built on the standard library only: loading a config is on the path of every command, and the
validation libraries cost more to import on this class of machine than a whole `status` may take.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


_REQUIRED: Any = _Required()


class Field:
    """One key of a table: its name, default (or factory), documentation and limits."""

    def __init__(self, default: Any, factory: Callable[[], Any] | None, metadata: dict[str, Any]) -> None:
        self.name = ""
        self.default = default
        self.default_factory: Any = factory if factory is not None else _REQUIRED
        self.metadata = metadata

    def initial(self) -> Any:
        return self.default_factory() if callable(self.default_factory) else self.default


def spec(default: Any = _REQUIRED, *, doc: str, factory: Callable[[], Any] | None = None,
         ge: float | None = None, gt: float | None = None, le: float | None = None,
         check: Callable[[Any], Any] | None = None) -> Any:
    """A table key: its default (or `factory`), what it means, its limits, and an optional `check`
    that raises ValueError with a message for a value of the right type but wrong content."""
    return Field(default, factory, {"doc": doc, "ge": ge, "gt": gt, "le": le, "check": check})


class Table:
    """Base of every table class: its annotated `spec(...)` attributes are its keys. Instances are
    immutable. (Not dataclasses: generating their methods cost ~1 ms a class at every start.)"""

    __fields__: typing.ClassVar[dict[str, Field]] = {}

    def __init_subclass__(cls) -> None:
        fields = dict(cls.__fields__)
        for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063 - own annotations, unevaluated
            value = cls.__dict__.get(name)
            if isinstance(value, Field):
                value.name = name
                fields[name] = value
        cls.__fields__ = fields

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self.__fields__)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown keys {sorted(unknown)}")
        for name, f in self.__fields__.items():
            if name in values:
                value = values[name]
            elif f.default is _REQUIRED and f.default_factory is _REQUIRED:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            else:
                value = f.initial()
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def replace(table: Any, **changes: Any) -> Any:
    """A copy of `table` with `changes`."""
    return type(table)(**{**vars(table), **changes})


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def table_fields(cls: type[Any]) -> list[Field]:
    return list(cls.__fields__.values())


def is_table(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Table)


def without_none(tp: Any) -> tuple[Any, bool]:
    """(`tp` without None, whether None was part of it)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional  # noqa: UP007
    return tp, False


def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _quoted_choices(values: tuple[Any, ...]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


class Problems(list[str]):
    """Collected `where: what` lines."""

    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}" if where else what)


def key_path(base: str, key: str | int, node: Any = None) -> str:
    """`agent[2] (builder).backend`: list items show their `name` when they have one."""
    if isinstance(key, int):
        label = f" ({node['name']})" if isinstance(node, dict) and isinstance(node.get("name"), str) else ""
        return f"{base}[{key}]{label}"
    return f"{base}.{key}" if base else key


def convert(cls: type[Any], raw: Any, where: str, problems: Problems) -> Any:
    """`raw` (a parsed TOML table) as an instance of table class `cls`; every problem goes to
    `problems` and the return is then None."""
    if not isinstance(raw, dict):
        problems.add(where or "(top level)", f"expected a table (got {raw!r})")
        return None
    types_of = hints(cls)
    names = [f.name for f in table_fields(cls)]
    before = len(problems)
    for key in raw:
        if key not in types_of:
            problems.add(key_path(where, key), f"unknown key {key!r}{suggest(key, names)}")
    values: dict[str, Any] = {}
    for f in table_fields(cls):
        at = key_path(where, f.name)
        if f.name not in raw:
            if f.default is _REQUIRED and f.default_factory is _REQUIRED:
                problems.add(at, "required key is missing")
            continue
        value = _value(types_of[f.name], raw[f.name], at, problems)
        if value is _BAD:
            continue
        problem = _limits(f, value)
        if problem is None and f.metadata.get("check") is not None and value is not None:
            try:
                f.metadata["check"](value)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            problems.add(at, problem)
            continue
        values[f.name] = value
    if len(problems) > before:
        return None
    return cls(**values)


_BAD: Any = object()


def _value(tp: Any, raw: Any, at: str, problems: Problems) -> Any:
    tp, _ = without_none(tp)
    origin = typing.get_origin(tp)
    if is_table(tp):
        result = convert(tp, raw, at, problems)
        return _BAD if result is None else result
    if origin is Literal:
        choices = typing.get_args(tp)
        if raw in choices and type(raw) is type(choices[0]):
            return raw
        problems.add(at, f"must be {_quoted_choices(choices)} (got {raw!r})")
        return _BAD
    if origin is list:
        if not isinstance(raw, list):
            problems.add(at, f"expected a list (got {raw!r})")
            return _BAD
        (item,) = typing.get_args(tp)
        items = [_value(item, v, key_path(at, i, v), problems) for i, v in enumerate(raw)]
        return _BAD if any(v is _BAD for v in items) else items
    if origin is dict:
        if not isinstance(raw, dict):
            problems.add(at, f"expected a table (got {raw!r})")
            return _BAD
        _key, item = typing.get_args(tp)
        mapping = {k: _value(item, v, key_path(at, k), problems) for k, v in raw.items()}
        return _BAD if any(v is _BAD for v in mapping.values()) else mapping
    if origin in (typing.Union, types.UnionType):  # str | list[str]: the first that fits
        for option in typing.get_args(tp):
            trial = Problems()
            value = _value(option, raw, at, trial)
            if not trial:
                return value
        problems.add(at, f"expected {type_text(tp)} (got {raw!r})")
        return _BAD
    return _scalar(tp, raw, at, problems)


_SCALAR_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _scalar(tp: Any, raw: Any, at: str, problems: Problems) -> Any:
    if tp is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if tp in (str, int, bool) and type(raw) is tp:
        return raw
    if tp is Any:
        return raw
    problems.add(at, f"expected {_SCALAR_NAMES.get(tp, type_text(tp))} (got {raw!r})")
    return _BAD


def _limits(f: Field, value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    ge, gt, le = f.metadata.get("ge"), f.metadata.get("gt"), f.metadata.get("le")
    if ge is not None and value < ge:
        return f"must be at least {ge} (got {value!r})"
    if gt is not None and value <= gt:
        return f"must be greater than {gt} (got {value!r})"
    if le is not None and value > le:
        return f"must be at most {le} (got {value!r})"
    return None


def was_set(raw: Any, *path: str | int) -> bool:
    """Did the file itself set this key (as opposed to a default)? Ints index lists."""
    node = raw
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return False
        elif not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


# ── documentation generated from the fields ───────────────────────────────────────────────────


def type_text(tp: Any) -> str:
    tp, _ = without_none(tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        text = " | ".join(repr(a) for a in typing.get_args(tp))
    elif origin is list:
        text = f"list[{type_text(typing.get_args(tp)[0])}]"
    elif origin is dict:
        key, item = typing.get_args(tp)
        text = f"dict[{type_text(key)}, {type_text(item)}]"
    elif origin in (typing.Union, types.UnionType):
        text = " | ".join(type_text(a) for a in typing.get_args(tp))
    elif is_table(tp):
        text = "table"
    else:
        text = getattr(tp, "__name__", str(tp))
    return text


def default_text(f: Field) -> str:
    import json

    if f.default is _REQUIRED and f.default_factory is _REQUIRED:
        return "required"
    value = f.initial()
    if value is None:
        return "unset"
    if isinstance(value, Table):
        return "(table)"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def json_schema(root: type[Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of `root` and every table under it."""
    defs: dict[str, Any] = {}

    def of(tp: Any) -> dict[str, Any]:
        tp, _ = without_none(tp)
        origin = typing.get_origin(tp)
        if is_table(tp):
            if tp.__name__ not in defs:
                defs[tp.__name__] = {}  # placeholder against recursion
                defs[tp.__name__] = table(tp)
            return {"$ref": f"#/$defs/{tp.__name__}"}
        if origin is Literal:
            return {"enum": list(typing.get_args(tp))}
        if origin is list:
            return {"type": "array", "items": of(typing.get_args(tp)[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": of(typing.get_args(tp)[1])}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [of(a) for a in typing.get_args(tp)]}
        return {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
                bool: {"type": "boolean"}}.get(tp, {})

    def table(cls: type[Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required = []
        for f in table_fields(cls):
            prop = of(hints(cls)[f.name])
            prop["description"] = f.metadata["doc"]
            for key, name in (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum")):
                if f.metadata.get(key) is not None:
                    prop[name] = f.metadata[key]
            if f.default is not _REQUIRED and f.default is not None and not isinstance(f.default, Table):
                prop["default"] = f.default
            if f.default is _REQUIRED and f.default_factory is _REQUIRED:
                required.append(f.name)
            props[f.name] = prop
        out: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": props,
                               "additionalProperties": False}
        if cls.__doc__ and cls.__doc__.strip() != Table.__doc__:
            out["description"] = " ".join(cls.__doc__.split())
        if required:
            out["required"] = required
        return out

    top = table(root)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **top, "$defs": defs}


def markdown_rows(cls: type[Any]) -> list[str]:
    """`| key | type | default | meaning |` rows of the scalar and list fields of `cls`."""
    rows = []
    for f in table_fields(cls):
        tp, _ = without_none(hints(cls)[f.name])
        if is_table(tp):
            continue
        doc = str(f.metadata["doc"]).replace("|", "\\|")
        rows.append(f"| `{f.name}` | {type_text(tp).replace('|', chr(92) + '|')} | {default_text(f)} | {doc} |")
    return rows
