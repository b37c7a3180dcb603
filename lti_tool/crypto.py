"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from MB_SECRET_KEY with HKDF."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lti_tool.errors import SecretError
from lti_tool.settings import Settings

# Domain separation: the same MB_SECRET_KEY may sign sessions elsewhere; this info string makes the
# derived encryption key unrelated to any other use. Bump the version to re-key deliberately.
_HKDF_INFO = b"mastery-bridge/secrets-at-rest/v1"


def _fernet(settings_or_key: Settings | str) -> Fernet:
    secret_key = settings_or_key.secret_key if isinstance(settings_or_key, Settings) else settings_or_key
    if not secret_key:
        raise SecretError("MB_SECRET_KEY is empty; cannot derive the key for secrets at rest")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(settings_or_key: Settings | str, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` for storage; the result is a Fernet token (ASCII bytes, authenticated)."""
    return _fernet(settings_or_key).encrypt(plaintext)


def decrypt_secret(settings_or_key: Settings | str, token: bytes) -> bytes:
    """Decrypt a token made by `encrypt_secret`; raise SecretError if the key is wrong or the data damaged."""
    try:
        return _fernet(settings_or_key).decrypt(token)
    except InvalidToken as exc:
        # Say what to check, never what was tried: no key material, no ciphertext.
        raise SecretError(
            "cannot decrypt a stored secret: MB_SECRET_KEY differs from the one it was encrypted with, "
            "or the stored value is damaged"
        ) from exc
