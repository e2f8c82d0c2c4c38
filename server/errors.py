"""Operation-level failures of the domain, mapped to GraphQL error codes by the schema."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure whose message is safe to show to the client."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
