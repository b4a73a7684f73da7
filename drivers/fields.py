"""An encrypted text field: MultiFernet (AES-128-CBC + HMAC-SHA256) with rotating keys.

Keys come from settings.FIELD_ENCRYPTION_KEYS, a list whose first key encrypts and all of which
decrypt, so a new key can be put first and old rows still read until `encryption_rotate` has
re-encrypted them. The column holds only the Fernet token; it cannot be searched or compared
in SQL (tokens are randomised), so the field refuses lookups other than isnull.
"""

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def derive_key(secret: str, *, purpose: str) -> str:
    """A Fernet key derived from a secret (development default only: FIELD_ENCRYPTION_KEYS)."""
    digest = hashlib.sha256(f"spark:{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid key: {exc}") from exc


def configured_keys() -> tuple[str, ...]:
    keys = tuple(k for k in settings.FIELD_ENCRYPTION_KEYS if k)
    return keys or (derive_key(settings.SECRET_KEY, purpose="field-encryption"),)


def cipher() -> MultiFernet:
    # Keyed by the tuple of keys, so tests that override the setting get a matching cipher.
    return _multifernet(configured_keys())


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An encrypted value cannot be read with FIELD_ENCRYPTION_KEYS (a key was removed "
            "before its rows were rotated?)."
        ) from exc


def needs_rotation(token: str) -> bool:
    """True unless the token is already encrypted under the current (first) key."""
    try:
        Fernet(configured_keys()[0].encode()).decrypt(token.encode())
    except InvalidToken:
        return True
    return False


def rotate(token: str) -> str:
    """Re-encrypt a token under the current (first) key."""
    return cipher().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """Stores `encrypt(value)`; reads decrypt. The empty string is stored as is (no secret)."""

    description = "Text encrypted with MultiFernet"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise NotImplementedError(f"Encrypted fields cannot be queried with '{lookup_name}'.")
        return super().get_lookup(lookup_name)
