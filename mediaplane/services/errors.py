"""Refusals of the plane's services. Each carries the IVS error code the API answers
with (the plane speaks IVS all the way down), so the API layer passes it on as is."""

from __future__ import annotations


class Refused(Exception):
    """An operation that cannot be done; nothing it would have written is kept."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> Refused:
    return Refused("ValidationException", message)


def not_found(message: str) -> Refused:
    return Refused("ResourceNotFoundException", message)


def conflict(message: str) -> Refused:
    return Refused("ConflictException", message)


def over_quota(message: str) -> Refused:
    return Refused("ServiceQuotaExceededException", message)


def find(queryset, what: str, **lookup):
    """The one row matching `lookup`, or ResourceNotFoundException naming `what`."""
    row = queryset.filter(**lookup).first()
    if row is None:
        raise not_found(f"{what} not found: {next(iter(lookup.values()))}")
    return row
