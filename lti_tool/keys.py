"""The tool's RSA signing keys: generation, rotation with an overlap, and the published JWKS.

A key is *signing* while `is_active`; a rotated-out key stops signing at once but stays *published*
until `retire_after`, so platforms that cached the JWKS can still verify what it signed.
Functions take a `Session` and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.crypto import decrypt_secret, encrypt_secret
from lti_tool.models import ToolKey

# LTI Security Framework §6.1 requires RSA keys; 2048 bits is the floor NIST SP 800-57 sets through 2030.
KEY_SIZE_BITS = 2048
SIGNING_ALG = "RS256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A decrypted signing key: its kid and its private key as PKCS#8 PEM."""

    kid: str
    private_key_pem: bytes = field(repr=False)


def generate_tool_key(session: Session, secret_key: str, *, now: datetime) -> ToolKey:
    """Create an active RSA signing key; kid is its RFC 7638 thumbprint, the private PEM is encrypted."""
    rsa_key = RSAKey.generate_key(KEY_SIZE_BITS, private=True)
    kid = rsa_key.thumbprint()
    public_jwk: dict[str, Any] = {
        **rsa_key.as_dict(private=False),
        "kid": kid,
        "alg": SIGNING_ALG,
        "use": "sig",
    }
    tool_key = ToolKey(
        kid=kid,
        private_key_pem_encrypted=encrypt_secret(secret_key, rsa_key.as_bytes(private=True)),
        public_jwk=public_jwk,
        created_at=now,
        retire_after=None,
        is_active=True,
    )
    session.add(tool_key)
    session.flush()
    return tool_key


def rotate_keys(session: Session, secret_key: str, *, overlap: timedelta, now: datetime) -> ToolKey:
    """Add a new signing key; the previous signing keys stop signing and stay published until now + overlap."""
    if overlap < timedelta(0):
        raise ValueError(f"overlap must not be negative, got {overlap}")
    retire_after = now + overlap
    for previous in session.scalars(select(ToolKey).where(ToolKey.is_active.is_(True))):
        previous.is_active = False
        # A key already scheduled to retire earlier keeps its earlier date.
        if previous.retire_after is None or previous.retire_after > retire_after:
            previous.retire_after = retire_after
    return generate_tool_key(session, secret_key, now=now)


def list_tool_keys(session: Session) -> list[ToolKey]:
    """Every tool key, newest first."""
    return list(session.scalars(select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc())))


def is_published(tool_key: ToolKey, *, now: datetime) -> bool:
    """Whether `tool_key` belongs in the JWKS at `now`."""
    if tool_key.retire_after is None:
        return tool_key.is_active
    return tool_key.retire_after > now


def decrypt_private_key(tool_key: ToolKey, secret_key: str) -> SigningKey:
    """Decrypt `tool_key`'s private half; raise SecretError if `secret_key` is not the one it was stored with."""
    return SigningKey(
        kid=tool_key.kid, private_key_pem=decrypt_secret(secret_key, tool_key.private_key_pem_encrypted)
    )


def current_signing_key(session: Session, secret_key: str, *, now: datetime) -> SigningKey:
    """The newest active key, decrypted; create one first if there is none."""
    tool_key = session.scalars(
        select(ToolKey)
        .where(ToolKey.is_active.is_(True), or_(ToolKey.retire_after.is_(None), ToolKey.retire_after > now))
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
        .limit(1)
    ).first()
    if tool_key is None:
        tool_key = generate_tool_key(session, secret_key, now=now)
    return decrypt_private_key(tool_key, secret_key)


def published_jwks(session: Session, *, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The JWKS the platforms fetch (RFC 7517 §5): public keys of signing and not yet retired keys."""
    keys = [tool_key for tool_key in list_tool_keys(session) if is_published(tool_key, now=now)]
    return {"keys": [_public_jwk(tool_key) for tool_key in keys]}


def _public_jwk(tool_key: ToolKey) -> dict[str, Any]:
    # Rebuilt from the stored JWK so only public members can ever leave, whatever the column holds.
    public_members = ("kty", "n", "e")
    jwk = {name: tool_key.public_jwk[name] for name in public_members}
    return {**jwk, "kid": tool_key.kid, "alg": SIGNING_ALG, "use": "sig"}
