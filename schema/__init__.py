"""The GraphQL schema: translates between clients and the use cases, decides nothing."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.errors import ErrorCodes
from schema.listing import Audience
from schema.mutations import Mutation
from schema.queries import Query
from schema.results import (
    ArchiveBlockedByAssignee,
    ArchiveBlockedByStage,
    ContactIsArchived,
    ContactNotArchived,
    ContactNotFound,
    ContactUnreachable,
)
from schema.types import Bucket, Contact, Interaction, Stage, Tag, User, Workspace


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
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
        extensions=[ErrorCodes],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
