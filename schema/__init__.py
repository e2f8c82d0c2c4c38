"""The GraphQL schema: translates between clients and the use cases, decides nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition

from schema.admin import AdminMutation, AdminQuery
from schema.documents import ParsedDocuments, ParsedOnce
from schema.errors import ErrorCodes, log_errors, without_suggestions
from schema.execution import call_resolvers_directly
from schema.limits import DirectiveLimit, create_limits_rule
from schema.listing import Audience
from schema.lists import ListsCompletedDirectly
from schema.mutations import Mutation as ContactMutation
from schema.operation_name import OperationName
from schema.permissions_first import AllOrNothing, PermissionsFirst
from schema.queries import Query as ContactQuery
from schema.results import (
    ArchiveBlockedByAssignee,
    ArchiveBlockedByStage,
    ContactIsArchived,
    ContactNotArchived,
    ContactNotFound,
    ContactUnreachable,
)
from schema.types import Bucket, Contact, Interaction, Stage, Tag, User, Workspace
from schema.variables import VariablesCoercedDirectly
from server.settings import Settings

Query = merge_types("Query", (ContactQuery, AdminQuery))
Mutation = merge_types("Mutation", (ContactMutation, AdminMutation))


class Executor(VariablesCoercedDirectly, ListsCompletedDirectly):
    """Strawberry's execution context with the shortcuts of schema/variables.py,
    schema/execution.py and schema/lists.py: the variables' coercion, the plain fields'
    completion, and lists of objects of plain fields."""


class ContactsSchema(strawberry.Schema):
    """Strawberry's schema, with errors logged as CONTRACT.md's "Privacy of logs" asks:
    Strawberry's own `process_errors` logs every error, the client's mistakes included, at
    ERROR with the text of the query."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        if self.config.disable_field_suggestions:
            # Strawberry removes "Did you mean" from unknown fields only; production
            # suggests no argument, enum value, input field or type name either.
            for error in errors:
                error.message = without_suggestions(error.message)
        log_errors(errors, _request_id(execution_context))


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context: Any = execution_context.context if execution_context else None
    request = getattr(context, "request", None)
    if request is None and isinstance(context, dict):
        request = context.get("request")
    state = getattr(request, "state", None)
    request_id = getattr(state, "request_id", None)
    return request_id if isinstance(request_id, str) else None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema; `settings` bring the query limits and what production turns off."""
    settings = settings or Settings()
    # The size limits as one validation rule made once, so that ValidationCache finds a
    # document it has validated (validating the bench's list query took ~3 ms a request).
    # It replaces Strawberry's depth and alias limiters, whose work doubled with every
    # fragment spread twice (schema/limits.py). Expanded, a document may select as many
    # fields as it has tokens at most: what it could have written out without fragments.
    limits: list[type[ASTValidationRule]] = [
        create_limits_rule(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_fields=settings.max_query_tokens,
        ),
        DirectiveLimit,
    ]
    documents = ParsedDocuments()
    # Factories, so that every request gets fresh extension instances.
    config = StrawberryConfig(
        auto_camel_case=True, disable_field_suggestions=settings.is_production
    )
    permissions = {
        config.name_converter.get_graphql_name(field): field.permission_classes
        for field in get_object_definition(Mutation, strict=True).fields
    }
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodes,
        OperationName,
        lambda: PermissionsFirst(permissions),
        AllOrNothing,
        lambda: ParsedOnce(documents),
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        ValidationCache,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    built = ContactsSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Audience,
            Bucket,
            Contact,
            Interaction,
            Stage,
            Tag,
            User,
            Workspace,
            ContactNotFound,
            ContactIsArchived,
            ContactNotArchived,
            ArchiveBlockedByStage,
            ArchiveBlockedByAssignee,
            ContactUnreachable,
        ],
        extensions=extensions,
        execution_context_class=Executor,
        config=config,
    )
    call_resolvers_directly(built)
    return built


# The exported SDL depends on no setting; defaults, without reading the environment.
schema = build_schema(Settings.model_construct())
