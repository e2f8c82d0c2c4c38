"""Tortoise models: persistence only, no rules (those live in server.policy).

Every row carries its workspace, and every query filters on it.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from server.policy import ContactStatus, Role, StageCategory


class InteractionKind(StrEnum):
    EMAIL = "email"
    CALL = "call"
    MESSAGE = "message"
    MEETING = "meeting"
    NOTE = "note"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Workspace(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    phone_region = fields.CharField(max_length=2, default="US")
    # Keys the one-way hashes of suppressed addresses, so they cannot be compared across
    # workspaces or looked up in a precomputed table.
    secret = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workspace"


class User(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="users", on_delete=fields.CASCADE
    )
    workspace_id: int
    email = fields.CharField(max_length=320)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=10)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"
        unique_together = (("workspace", "email"),)


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=100, default="api")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class Stage(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="stages", on_delete=fields.CASCADE
    )
    workspace_id: int
    name = fields.CharField(max_length=100)
    category = fields.CharEnumField(StageCategory, max_length=10)
    position = fields.IntField(default=0)

    class Meta:
        table = "stage"
        indexes = (("workspace_id", "position"),)


class Tag(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="tags", on_delete=fields.CASCADE
    )
    workspace_id: int
    name = fields.CharField(max_length=100)
    # Lower-cased name: tags are unique case-insensitively within a workspace.
    name_key = fields.CharField(max_length=100)

    class Meta:
        table = "tag"
        unique_together = (("workspace", "name_key"),)


class Bucket(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="buckets", on_delete=fields.CASCADE
    )
    workspace_id: int
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bucket"
        indexes = (("workspace_id", "name"),)


class Contact(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="contacts", on_delete=fields.CASCADE
    )
    workspace_id: int
    first_name = fields.CharField(max_length=200, null=True)
    last_name = fields.CharField(max_length=200, null=True)
    company = fields.CharField(max_length=200, null=True)
    title = fields.CharField(max_length=200, null=True)
    emails: fields.Field[list[str]] = fields.JSONField(default=list)
    phones: fields.Field[list[str]] = fields.JSONField(default=list)
    # Denormalized for lists: the display name lower-cased (ordering), and every searchable
    # value lower-cased in one string (case-insensitive search that works the same on both
    # databases).
    sort_name = fields.CharField(max_length=320, default="")
    search_text = fields.TextField(default="")
    status = fields.CharEnumField(ContactStatus, max_length=10, default=ContactStatus.ACTIVE)
    stage: fields.ForeignKeyNullableRelation[Stage] = fields.ForeignKeyField(
        "models.Stage", related_name="contacts", null=True, on_delete=fields.SET_NULL
    )
    stage_id: int | None
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assigned_contacts", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    source = fields.CharField(max_length=10, null=True)
    source_account = fields.CharField(max_length=200, null=True)
    external_id = fields.CharField(max_length=200, null=True)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "contact"
        indexes = (
            Index(fields=("workspace_id", "status", "id"), name="contact_ws_status_id"),
            Index(fields=("workspace_id", "sort_name", "id"), name="contact_ws_sort_name"),
            Index(fields=("workspace_id", "created_at", "id"), name="contact_ws_created"),
            Index(fields=("workspace_id", "updated_at", "id"), name="contact_ws_updated"),
            Index(fields=("workspace_id", "archived_at", "id"), name="contact_ws_archived"),
            Index(fields=("workspace_id", "assignee_id"), name="contact_ws_assignee"),
            Index(fields=("workspace_id", "stage_id"), name="contact_ws_stage"),
            Index(
                fields=("workspace_id", "source", "source_account", "external_id"),
                name="contact_ws_origin",
            ),
        )


class ContactHandle(Model):
    """One normalized email or phone of a contact, indexed for matching incoming contacts."""

    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="handles", on_delete=fields.CASCADE
    )
    workspace_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="handles", on_delete=fields.CASCADE
    )
    contact_id: int
    kind = fields.CharField(max_length=10)
    value = fields.CharField(max_length=320)

    class Meta:
        table = "contact_handle"
        indexes = (
            Index(fields=("workspace_id", "kind", "value"), name="contact_handle_lookup"),
            Index(fields=("contact_id",), name="contact_handle_contact"),
        )


class ContactTag(Model):
    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="tag_links", on_delete=fields.CASCADE
    )
    contact_id: int
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "models.Tag", related_name="contact_links", on_delete=fields.CASCADE
    )
    tag_id: int

    class Meta:
        table = "contact_tag"
        unique_together = (("contact", "tag"),)
        indexes = (Index(fields=("tag_id", "contact_id"), name="contact_tag_by_tag"),)


class ContactBucket(Model):
    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="bucket_links", on_delete=fields.CASCADE
    )
    contact_id: int
    bucket: fields.ForeignKeyRelation[Bucket] = fields.ForeignKeyField(
        "models.Bucket", related_name="contact_links", on_delete=fields.CASCADE
    )
    bucket_id: int

    class Meta:
        table = "contact_bucket"
        unique_together = (("contact", "bucket"),)
        indexes = (Index(fields=("bucket_id", "contact_id"), name="contact_bucket_by_bucket"),)


class Interaction(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="interactions", on_delete=fields.CASCADE
    )
    workspace_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="interactions", on_delete=fields.CASCADE
    )
    contact_id: int
    kind = fields.CharField(max_length=10)
    direction = fields.CharField(max_length=10)
    occurred_at = fields.DatetimeField()
    subject = fields.CharField(max_length=500, null=True)
    body = fields.TextField(null=True)
    # Outbox: a message waits here as 'queued' for a delivery worker; logged ones are null.
    channel = fields.CharField(max_length=10, null=True)
    delivery_status = fields.CharField(max_length=10, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "interaction"
        indexes = (
            Index(fields=("contact_id", "occurred_at", "id"), name="interaction_contact_time"),
            Index(fields=("delivery_status", "id"), name="interaction_outbox"),
        )


class SavedAudience(Model):
    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="audiences", on_delete=fields.CASCADE
    )
    workspace_id: int
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audiences", null=True, on_delete=fields.SET_NULL
    )
    owner_id: int | None
    name = fields.CharField(max_length=200)
    criteria: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "saved_audience"
        indexes = (("workspace_id", "id"),)


class Suppression(Model):
    """A one-way hash of an address or source ID whose contact was deleted with preventResync."""

    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="suppressions", on_delete=fields.CASCADE
    )
    workspace_id: int
    digest = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=10)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "suppression"
        unique_together = (("workspace", "digest"),)


class AuditEntry(Model):
    """One lifecycle mutation: who, when, what, and which contacts (IDs only, no personal data)."""

    id = fields.IntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="audit_entries", on_delete=fields.CASCADE
    )
    workspace_id: int
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=20)
    contact_ids: fields.Field[list[int]] = fields.JSONField(default=list)
    contact_count = fields.IntField()
    prevent_resync = fields.BooleanField(default=False)
    occurred_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        indexes = (Index(fields=("workspace_id", "id"), name="audit_entry_by_workspace"),)
