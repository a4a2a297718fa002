"""A money request's `description` and `metadata`: what the caller says about it.

Both are optional on every money POST, stored with the request, returned on it and part of
its idempotency fingerprint. `metadata` omitted, null or {} all mean none: they read back
as {} and fingerprint alike.
"""
import re
from dataclasses import dataclass, field

from errors import ValidationError
from money import NOT_FREE_TEXT, is_free_text, is_text

MAX_DESCRIPTION_CHARS = 255
MAX_METADATA_KEYS = 20
MAX_METADATA_VALUE_CHARS = 500
METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}", re.ASCII)


@dataclass(frozen=True)
class Details:
    """A request's description (None when none) and metadata ({} when none)."""

    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def fingerprinted(self) -> dict:
        """What the idempotency fingerprint adds for them: nothing when there are none,
        so keys from before these fields existed fingerprint as they did."""
        out: dict = {}
        if self.description is not None:
            out["description"] = self.description
        if self.metadata:
            out["metadata"] = self.metadata
        return out


def _refuse(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name}: {message}",
                           errors=[{"field": field_name, "message": message}])


def parse_details(description: object = None, metadata: object = None) -> Details:
    """Check a request's description and metadata.

    Parameters:
      description: a string of at most 255 characters, or None.
      metadata: an object of at most 20 keys, each 1-40 characters of [A-Za-z0-9_.-], each
        value a string of at most 500 characters; or None. Neither string may hold a
        control character but tab, line feed and carriage return (money.is_free_text).

    Raises:
      ValidationError: naming the field (`metadata.KEY` for a bad value).
    """
    if description is not None:
        if not is_text(description):
            raise _refuse("description", "must be a string")
        if not is_free_text(description):
            raise _refuse("description", NOT_FREE_TEXT)
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise _refuse("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters")
    if metadata is None:
        return Details(description)
    if not isinstance(metadata, dict):
        raise _refuse("metadata", "must be an object of string values")
    if len(metadata) > MAX_METADATA_KEYS:
        raise _refuse("metadata", f"must have at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not METADATA_KEY.fullmatch(key):
            raise _refuse("metadata", f"key {key[:50]!r} must be 1 to 40 characters of "
                                      "A-Z, a-z, 0-9, '_', '.' or '-'")
        if not is_text(value):
            raise _refuse(f"metadata.{key}", "must be a string")
        if not is_free_text(value):
            raise _refuse(f"metadata.{key}", NOT_FREE_TEXT)
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise _refuse(f"metadata.{key}",
                          f"must be at most {MAX_METADATA_VALUE_CHARS} characters")
    return Details(description, dict(sorted(metadata.items())))
