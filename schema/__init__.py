"""The GraphQL schema: translates between clients and the use cases, decides nothing."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.admin import AdminMutation, AdminQuery
from schema.documents import ParsedDocuments, ParsedOnce
from schema.errors import ErrorCodes
from schema.execution import call_resolvers_directly
from schema.limits import create_limits_rule
from schema.listing import Audience
from schema.lists import ListsCompletedDirectly
from schema.mutations import Mutation as ContactMutation
from schema.operation_name import OperationName
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
        )
    ]
    documents = ParsedDocuments()
    # Factories, so that every request gets fresh extension instances.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodes,
        OperationName,
        lambda: ParsedOnce(documents),
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        ValidationCache,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    built = strawberry.Schema(
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
        config=StrawberryConfig(
            auto_camel_case=True, disable_field_suggestions=settings.is_production
        ),
    )
    call_resolvers_directly(built)
    return built


# The exported SDL depends on no setting; defaults, without reading the environment.
schema = build_schema(Settings.model_construct())
