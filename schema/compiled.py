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
compiled code is kept (bounded) and each request binds its own values to it.
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

_compiled: OrderedDict[str, CodeType] = OrderedDict()


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
    lines = ["def completed(source, info, where):"]
    if is_type_of is not None:
        lines += ["    if is_type_of(source, info) is not True:", "        raise Irregular"]
    for n, part in enumerate(fields):
        namespace[f"k{n}"] = part.key
        if isinstance(part, Step):
            namespace[f"s{n}"] = part.step
            lines.append(f"    f{n} = s{n}(source, info, where)")
        else:
            lines += _leaf_lines(n, part.field, namespace)
    items = ", ".join(f"k{n}: f{n}" for n in range(len(fields)))
    lines.append(f"    return {{{items}}}")
    source = "\n".join(lines)
    code = _compiled.get(source)
    if code is None:
        code = _compiled[source] = compile(source, "<schema.compiled>", "exec")
        while len(_compiled) > KEPT_SHAPES:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(source)
    exec(code, namespace)  # noqa: S102 - source made of fixed text and identifiers only
    completed: Callable[[Any, Any, Any], Any] = namespace["completed"]
    return completed


def _leaf_lines(n: int, field: PlainField, namespace: dict[str, Any]) -> list[str]:
    namespace[f"c{n}"] = field.coerce
    if field.attribute is not None and _is_attribute_name(field.attribute):
        read = f"source.{field.attribute}"
    else:
        namespace[f"r{n}"] = field.read
        read = f"r{n}(source)"
    lines = [f"    v = {read}", "    if v is None:"]
    lines.append(f"        f{n} = None" if field.nullable else "        raise Irregular")
    unchanged = _UNCHANGED.get(field.coerce)
    if field.listed:
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
