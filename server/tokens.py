"""Listing and revoking API tokens, within a workspace."""

from __future__ import annotations

from datetime import UTC, datetime

from server.errors import BadUserInput
from server.models import ApiToken


async def workspace_tokens(workspace_id: int) -> list[ApiToken]:
    return (
        await ApiToken.filter(user__workspace_id=workspace_id).select_related("user").order_by("id")
    )


async def revoke(workspace_id: int, token_id: int) -> ApiToken:
    """Revoke a token of the workspace; revoking twice keeps the first revocation time."""
    token = await ApiToken.get_or_none(id=token_id, user__workspace_id=workspace_id)
    if token is None:
        raise BadUserInput("No API token with this ID in your workspace.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await ApiToken.filter(id=token.id, revoked_at__isnull=True).update(
            revoked_at=token.revoked_at
        )
    return token


async def revoke_by_value(token_hash: str) -> bool:
    """Revoke the token with this hash (the CLI's way); False when there is none."""
    changed = await ApiToken.filter(token_hash=token_hash, revoked_at__isnull=True).update(
        revoked_at=datetime.now(UTC)
    )
    return changed > 0
