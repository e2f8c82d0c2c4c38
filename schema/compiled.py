"""An object's completion written out as one Python function, for schema/lists.py.

A page of 100 contacts completes some 1,700 leaf fields. As closures, each costs a call to
its step, one to read the attribute and one to coerce the value. Written out, the read is
an attribute access, and a `str` for a String or an ID, or a `bool` for a Boolean, is
taken as it is: what graphql-core's coercion returns for exactly those types. Any other
value goes through the scalar's own coercion, and anything irregular raises `Irregular`
as before, so graphql-core completes the list again and reports it.

No text from a request goes into the source: response keys (a client's aliases), the
coercions and the steps are passed in the namespace, and attribute names are the
schema's own Python identifiers. The source depends only on the object's shape, so its
compiled code is kept by shape (bounded) and each request binds its own values to it.
"""

from __future__ import annotations

import keyword
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any, NamedTuple

from graphql import Undefined
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string

from schema.execution import LISTED, Irregular, PlainField, coerced

# Distinct object shapes whose compiled code is kept (a handful per query the API serves).
KEPT_SHAPES = 256

# Coercions that return a value of exactly this type unchanged (graphql-core's scalars).
_UNCHANGED: dict[Callable[[Any], Any], str] = {
    serialize_string: "str",
    serialize_id: "str",
    serialize_boolean: "bool",
}

# Compiled code by shape: per field, None for a step, else how its leaf is read.
_Shape = tuple[bool, tuple["_LeafShape | None", ...]]
_compiled: OrderedDict[_Shape, CodeType] = OrderedDict()


class _LeafShape(NamedTuple):
    attribute: str | None  # read as `source.<attribute>`, else through its `read`
    nullable: bool
    listed: bool
    unchanged: str | None  # the type its coercion returns as it is


class Leaf(NamedTuple):
    """A field `execution.plain_field` completes: its response key and how to complete it."""

    key: str
    field: PlainField


class Step(NamedTuple):
    """Any other field: its response key and its completion (source, info, where)."""

    key: str
    step: Callable[[Any, Any, Any], Any]


def compiled_object(
    is_type_of: Callable[[Any, Any], Any] | None, fields: Sequence[Leaf | Step]
) -> Callable[[Any, Any, Any], Any]:
    """(source, info, where) -> the object's completed fields, as `ListsCompletedDirectly`
    builds them from its steps."""
    namespace: dict[str, Any] = {
        "Irregular": Irregular,
        "Undefined": Undefined,
        "coerced": coerced,
        "is_type_of": is_type_of,
        "LISTED": LISTED,
    }
    leaves: list[_LeafShape | None] = []
    for n, part in enumerate(fields):
        namespace[f"k{n}"] = part.key
        if isinstance(part, Step):
            namespace[f"s{n}"] = part.step
            leaves.append(None)
            continue
        field = part.field
        attribute = field.attribute
        if attribute is None or not _is_attribute_name(attribute):
            attribute = None
            namespace[f"r{n}"] = field.read
        namespace[f"c{n}"] = field.coerce
        unchanged = _UNCHANGED.get(field.coerce)
        leaves.append(_LeafShape(attribute, field.nullable, field.listed, unchanged))
    shape: _Shape = (is_type_of is not None, tuple(leaves))
    code = _compiled.get(shape)
    if code is None:
        source = _source(shape)
        code = _compiled[shape] = compile(source, "<schema.compiled>", "exec")
        while len(_compiled) > KEPT_SHAPES:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(shape)
    exec(code, namespace)  # noqa: S102 - source made of fixed text and identifiers only
    completed: Callable[[Any, Any, Any], Any] = namespace["completed"]
    return completed


def _source(shape: _Shape) -> str:
    checks_type, leaves = shape
    lines = ["def completed(source, info, where):"]
    if checks_type:
        lines += ["    if is_type_of(source, info) is not True:", "        raise Irregular"]
    for n, leaf in enumerate(leaves):
        if leaf is None:
            lines.append(f"    f{n} = s{n}(source, info, where)")
        else:
            lines += _leaf_lines(n, leaf)
    items = ", ".join(f"k{n}: f{n}" for n in range(len(leaves)))
    lines.append(f"    return {{{items}}}")
    return "\n".join(lines)


def _leaf_lines(n: int, leaf: _LeafShape) -> list[str]:
    read = f"source.{leaf.attribute}" if leaf.attribute is not None else f"r{n}(source)"
    lines = [f"    v = {read}", "    if v is None:"]
    lines.append(f"        f{n} = None" if leaf.nullable else "        raise Irregular")
    unchanged = leaf.unchanged
    if leaf.listed:
        kept = f"x if type(x) is {unchanged} else " if unchanged else ""
        lines += [
            "    elif not isinstance(v, LISTED):",
            "        raise Irregular",
            "    else:",
            f"        f{n} = [{kept}coerced(c{n}, x) for x in v]",
        ]
        return lines
    if unchanged:
        lines += [f"    elif type(v) is {unchanged}:", f"        f{n} = v"]
    lines += [
        "    else:",
        f"        f{n} = c{n}(v)",
        f"        if f{n} is None or f{n} is Undefined:",
        "            raise Irregular",
    ]
    return lines


def _is_attribute_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")
