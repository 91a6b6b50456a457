"""``@tool``: a function becomes a :class:`ToolSpec` with a JSON schema from its type hints and docstring.

```python
@tool(version="1.0", keywords={"en": ("credit limit",), "zh": ("额度",)}, idempotent=True)
def get_credit_limit(user: str) -> dict:
    '''The user's credit card limit and available credit.'''

get_credit_limit.schema()       # {"name": "get_credit_limit", "description": ..., "parameters": {...}}
get_credit_limit.validate({})   # {} (``user`` is a context parameter, bound from the caller)
```
Parameters named in ``CONTEXT_PARAMS`` (``user``, ``tenant``) are bound from the authenticated
caller, never from the model or the question, and are left out of the model-facing schema.
Constraints go in ``Annotated[str, Constraint(pattern=...)]``.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from workbench.tools.errors import ToolArgumentError

__all__ = ["CONTEXT_PARAMS", "Constraint", "ToolSpec", "tool", "validate_arguments"]

#: Parameters bound from the caller's identity.
CONTEXT_PARAMS = frozenset({"user", "tenant"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Constraint:
    """Extra JSON-schema constraints for ``Annotated`` parameters."""

    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool: the function, its schema and its operational properties."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema (object) of the model-facing arguments."""
    fn: Callable[..., Any]
    version: str = "1.0"
    idempotent: bool = False
    """Only idempotent tools are retried."""
    cacheable: bool = False
    """Results may be kept in the per-user snapshot cache."""
    cache_ttl_s: float = 60.0
    context: tuple[str, ...] = ()
    """Context parameters the function takes (bound from the caller)."""
    tenants: tuple[str, ...] | None = None
    """Tenants that own the tool (``None``: any tenant the policy allows)."""
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per language, phrases that route a personal question to this tool (the intent router)."""
    answer: Mapping[str, str] = field(default_factory=dict)
    """Per language, a ``str.format`` template over the tool's output (the answer shown to the user)."""
    source: str | None = None
    """The plugin file it came from."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        """True for ``async def`` tools."""
        return inspect.iscoroutinefunction(self.fn)

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function description the LLM router shows the model."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def validate(self, arguments: Any) -> dict[str, Any]:
        """``arguments`` checked against :attr:`parameters` (raises :class:`ToolArgumentError`)."""
        return validate_arguments(self.parameters, arguments, tool=self.name)


def _json_type(hint: Any) -> tuple[dict[str, Any], bool]:
    """(schema, optional) for a type hint."""
    constraint = None
    if get_origin(hint) is typing.Annotated:
        hint, *extra = get_args(hint)
        constraint = next((e for e in extra if isinstance(e, Constraint)), None)
    optional = False
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        if len(args) != 1:
            raise TypeError(f"unsupported union type {hint!r}: use one type (optionally | None)")
        schema, _ = _json_type(args[0])
    elif origin is Literal:
        values = get_args(hint)
        schema = {"enum": list(values)}
    elif origin in (list, tuple) or hint in (list, tuple):
        inner = get_args(hint)[:1]
        schema = {"type": "array", "items": _json_type(inner[0])[0] if inner else {}}
    else:
        mapping = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
        if hint not in mapping:
            raise TypeError(f"unsupported parameter type {hint!r}: use str, int, float, bool, Literal, list")
        schema = {"type": mapping[hint]}
    if constraint is not None:
        for key, value in (("pattern", constraint.pattern), ("minimum", constraint.minimum),
                           ("maximum", constraint.maximum), ("maxLength", constraint.max_length)):
            if value is not None:
                schema[key] = value
    return schema, optional


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    head, _, rest = doc.partition("\nArgs:")
    params: dict[str, str] = {}
    for line in rest.splitlines():
        m = re.match(r"^\s+(\w+)\s*(?:\([^)]*\))?:\s*(.+)$", line)
        if m:
            params[m.group(1)] = m.group(2).strip()
    return " ".join(head.split()), params


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, version: str = "1.0",
         idempotent: bool = False, cacheable: bool = False, cache_ttl_s: float = 60.0,
         tenants: tuple[str, ...] | None = None, keywords: Mapping[str, tuple[str, ...]] | None = None,
         answer: Mapping[str, str] | None = None) -> Any:
    """Make a :class:`ToolSpec` of a function (usable bare, ``@tool``, or with options, ``@tool(...)``)."""

    def wrap(f: Callable[..., Any]) -> ToolSpec:
        tool_name = name or f.__name__
        if not _NAME_RE.match(tool_name):
            raise ValueError(f"tool name {tool_name!r} must be lower_snake_case, at most 64 characters")
        description, param_docs = _docstring(f)
        if not description:
            raise ValueError(f"tool {tool_name!r} needs a docstring: its first paragraph is the model's description")
        hints = get_type_hints(f, include_extras=True)
        props: dict[str, Any] = {}
        required: list[str] = []
        context: list[str] = []
        for p in inspect.signature(f).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"tool {tool_name!r}: *args/**kwargs are not allowed (the schema must be closed)")
            if p.name in CONTEXT_PARAMS:
                context.append(p.name)
                continue
            if p.name not in hints:
                raise TypeError(f"tool {tool_name!r}: parameter {p.name!r} needs a type hint")
            schema, optional = _json_type(hints[p.name])
            if p.name in param_docs:
                schema["description"] = param_docs[p.name]
            if p.default is not p.empty:
                schema["default"] = p.default
            elif not optional:
                required.append(p.name)
            props[p.name] = schema
        params = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return ToolSpec(tool_name, description, params, f, version=version, idempotent=idempotent,
                        cacheable=cacheable, cache_ttl_s=cache_ttl_s, context=tuple(context), tenants=tenants,
                        keywords=dict(keywords or {}), answer=dict(answer or {}),
                        source=inspect.getsourcefile(f))

    return wrap(fn) if fn is not None else wrap


_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list, tuple)}


def _check(schema: dict[str, Any], value: Any, path: str, tool: str) -> None:
    def fail(msg: str) -> None:
        raise ToolArgumentError(f"tool {tool!r}: argument {path!r} {msg}")

    if "enum" in schema and value not in schema["enum"]:
        fail(f"must be one of {schema['enum']}, got {value!r}")
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        if not ok:
            fail(f"must be of type {kind}, got {type(value).__name__}")
    if isinstance(value, str):
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            fail(f"must match {schema['pattern']!r}, got {value!r}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            fail(f"must be at most {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            fail(f"must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            fail(f"must be <= {schema['maximum']}")
    if kind == "array":
        for i, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{i}]", tool)


def validate_arguments(schema: dict[str, Any], arguments: Any, *, tool: str = "tool") -> dict[str, Any]:
    """Check ``arguments`` against an object schema made by :func:`tool` (types, required, enum, extras)."""
    if not isinstance(arguments, dict):
        raise ToolArgumentError(f"tool {tool!r}: arguments must be a JSON object, got {type(arguments).__name__}")
    props = schema.get("properties", {})
    extra = sorted(set(arguments) - set(props))
    if extra:
        raise ToolArgumentError(f"tool {tool!r}: unknown argument(s) {extra}; allowed: {sorted(props)}")
    missing = [k for k in schema.get("required", []) if k not in arguments]
    if missing:
        raise ToolArgumentError(f"tool {tool!r}: missing required argument(s) {missing}")
    for key, value in arguments.items():
        if value is None and key not in schema.get("required", []):
            continue
        _check(props[key], value, key, tool)
    return dict(arguments)
