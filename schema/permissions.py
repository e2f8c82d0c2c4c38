"""Who may run what, declared on each field rather than checked inside resolvers."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from schema.context import Info
from server.policy import Permission


class Requires(BasePermission):
    permission: ClassVar[Permission]
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (strawberry reads it per class)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer.may(self.permission)


class CanWrite(Requires):
    permission = Permission.WRITE
    message = "Your role may only read: ask an admin or a member to make this change."


class CanDelete(Requires):
    permission = Permission.DELETE
    message = "Only admins may delete contacts permanently."


class CanAdminister(Requires):
    permission = Permission.ADMINISTER
    message = "Only admins may do this."


WRITE: list[type[BasePermission]] = [CanWrite]
ADMIN: list[type[BasePermission]] = [CanAdminister]
DELETE: list[type[BasePermission]] = [CanDelete]
