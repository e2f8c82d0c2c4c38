"""The size limits of a query document, checked in time linear in the document's size.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every fragment spread again
wherever it is spread, so a fragment spreading the next one twice doubles their work per
fragment: an 818-byte document took 20 s of CPU, and a long chain of spreads overflowed
Python's stack. Here every fragment is summed up once, without recursion, and a spread
reuses that sum; the sums saturate just above the limits, so no number grows with what
the document would be once expanded.

One rule checks, for each operation, with its fragments expanded:

- how deeply spreads nest (at most MAX_FRAGMENT_NESTING), so that the recursive code
  after validation (graphql-core's execution follows spreads recursively) stays far from
  Python's recursion limit;
- how many fields it selects (at most `max_fields`, the token limit by default: a
  document may expand its fragments to no more than it could have written out);
- how deeply fields nest and how many aliases the document has, with the messages of
  Strawberry's limiters, which clients and tests already know.

At most one error is reported, before anything runs; schema/errors.py gives it the code
QUERY_TOO_COMPLEX.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

# Far below graphql-core's own bound of 200 nested spreads (it aborts validation with a
# bare "Validation aborted."), and below what a client composing fragments writes.
MAX_FRAGMENT_NESTING = 50

# The marker schema/errors.py recognises in each message (with Strawberry's, for depth
# and aliases, which are kept word for word).
NESTING_MARKER = "fragment spreads nested"
FIELDS_MARKER = "fields once its fragments are expanded"


@dataclass
class Summary:
    """What one selection set (an operation's or a fragment's) amounts to, expanded.

    `depth` counts nested fields that have selections, as Strawberry's depth limiter
    does, ignoring introspection fields and what is under them; `fields` counts every
    field selection, introspection included; `nesting` is the longest chain of spreads.
    `fields` and `aliases` saturate at the rule's ceiling.
    """

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    nesting: int = 0
    # The fragments spread directly, each with the field depth it is spread at (None
    # under an introspection field, where depth is not counted).
    spreads: list[tuple[str, int | None]] = field(default_factory=list)


def summarize_own(selection_set: SelectionSetNode) -> Summary:
    """The selection set's own fields, and its spreads, without following them."""
    summary = Summary()
    # (selection set, depth of the fields in it, whether under an introspection field)
    stack: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, False)]
    while stack:
        selections, depth, introspection = stack.pop()
        for selection in selections.selections:
            if isinstance(selection, FragmentSpreadNode):
                summary.spreads.append((selection.name.value, None if introspection else depth))
                continue
            nested_depth = depth
            nested_introspection = introspection
            if isinstance(selection, FieldNode):
                summary.fields += 1
                if selection.alias is not None:
                    summary.aliases += 1
                if selection.name.value.startswith("__"):
                    nested_introspection = True
                if selection.selection_set is not None:
                    nested_depth = depth + 1
                    if not nested_introspection:
                        summary.depth = max(summary.depth, nested_depth)
            if isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
                stack.append((selection.selection_set, nested_depth, nested_introspection))
    return summary


class Summaries:
    """Every fragment's summary with its spreads expanded, each computed once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], ceiling: int) -> None:
        self.fragments = fragments
        self.ceiling = ceiling
        self.done: dict[str, Summary] = {}
        # How many summaries were computed: the tests check it grows with the document,
        # not with the document expanded.
        self.steps = 0

    def expand(self, own: Summary) -> Summary:
        """`own` with the summaries of the fragments it spreads added in."""
        for name, _ in own.spreads:
            self.complete(name)
        return self.combine(own)

    def combine(self, own: Summary) -> Summary:
        self.steps += 1
        total = Summary(
            depth=own.depth, fields=own.fields, aliases=own.aliases, spreads=own.spreads
        )
        for name, at in own.spreads:
            # Unknown fragments and the spread closing a cycle count for nothing here:
            # graphql-core's rules report both.
            spread = self.done.get(name)
            if spread is None:
                continue
            if at is not None:
                total.depth = max(total.depth, at + spread.depth)
            total.fields = min(self.ceiling, total.fields + spread.fields)
            total.aliases = min(self.ceiling, total.aliases + spread.aliases)
            total.nesting = max(total.nesting, 1 + spread.nesting)
        return total

    def complete(self, root: str) -> None:
        """Summarize `root` and what it spreads, depth first with a stack, not recursion:
        a document may chain hundreds of spreads."""
        if root in self.done or root not in self.fragments:
            return
        owns: dict[str, Summary] = {}
        on_path: set[str] = set()
        path: list[tuple[str, int]] = [(root, 0)]  # (fragment, next spread to follow)
        while path:
            name, index = path[-1]
            if name not in owns:
                owns[name] = summarize_own(self.fragments[name].selection_set)
                on_path.add(name)
            spreads = owns[name].spreads
            while index < len(spreads):
                child = spreads[index][0]
                index += 1
                if child in self.fragments and child not in self.done and child not in on_path:
                    break
            else:
                child = None
            if child is not None:
                path[-1] = (name, index)
                path.append((child, 0))
                continue
            path.pop()
            on_path.discard(name)
            self.done[name] = self.combine(owns[name])


def operation_label(operation: OperationDefinitionNode) -> str:
    # Strawberry's depth limiter names an unnamed operation "anonymous".
    return operation.name.value if operation.name else "anonymous"


def create_limits_rule(
    max_depth: int, max_aliases: int, max_fields: int
) -> type[ASTValidationRule]:
    """The rule for these limits; one class for the schema's lifetime, so that
    Strawberry's ValidationCache recognises it from one request to the next."""
    # Just above every limit: enough to tell "over" from "not over".
    ceiling = max(max_aliases, max_fields) + 1

    class QueryLimits(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            error = self.check(context)
            if error is not None:
                context.report_error(error)

        @staticmethod
        def check(context: ValidationContext) -> GraphQLError | None:
            document = context.document
            fragments = {
                definition.name.value: definition
                for definition in document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            summaries = Summaries(fragments, ceiling)
            operations = [
                definition
                for definition in document.definitions
                if isinstance(definition, OperationDefinitionNode)
            ]
            totals = [
                (operation, summaries.expand(summarize_own(operation.selection_set)))
                for operation in operations
            ]
            fields = min(ceiling, sum(total.fields for _, total in totals))
            aliases = min(ceiling, sum(total.aliases for _, total in totals))
            for operation, total in totals:
                if total.nesting > MAX_FRAGMENT_NESTING:
                    return GraphQLError(
                        f"'{operation_label(operation)}' has {NESTING_MARKER} more than "
                        f"{MAX_FRAGMENT_NESTING} deep",
                        operation,
                    )
            if fields > max_fields:
                return GraphQLError(f"the document selects more than {max_fields} {FIELDS_MARKER}")
            for operation, total in totals:
                if total.depth > max_depth:
                    # Strawberry's QueryDepthLimiter's message, word for word.
                    return GraphQLError(
                        f"'{operation_label(operation)}' exceeds maximum operation depth "
                        f"of {max_depth}",
                        operation,
                    )
            if aliases > max_aliases:
                # Strawberry's MaxAliasesLimiter's message; exact, since aliases never
                # outnumber fields and the field count is within its limit here.
                return GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}")
            return None

    return QueryLimits


# OWASP's GraphQL cheat sheet: a directive repeated many times at one place is work for
# every validation rule (one error each, for an unknown one) and for nothing else; no
# directive of this schema (@include, @skip, @deprecated, @specifiedBy, @oneOf) needs to
# appear more than once at a place.
MAX_DIRECTIVES_PER_PLACE = 4
DIRECTIVES_MARKER = "directives at one place"


class DirectiveLimit(ASTValidationRule):
    """Refuses, with one error, a node carrying more than MAX_DIRECTIVES_PER_PLACE
    directives (graphql-cop's "Directive Overloading")."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.refused = False

    def enter(self, node: Node, *_: object) -> None:
        directives = getattr(node, "directives", None)
        if self.refused or not directives or len(directives) <= MAX_DIRECTIVES_PER_PLACE:
            return
        self.refused = True
        self.report_error(
            GraphQLError(
                f"{len(directives)} {DIRECTIVES_MARKER}; at most {MAX_DIRECTIVES_PER_PLACE}",
                directives[0],
            )
        )
