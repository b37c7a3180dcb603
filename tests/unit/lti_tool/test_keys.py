"""Tool signing keys: RFC 7638 kids, encrypted private halves, rotation with an overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session

from lti_tool.crypto import decrypt_secret, encrypt_secret
from lti_tool.errors import SecretError
from lti_tool.keys import (
    current_signing_key,
    decrypt_private_key,
    generate_tool_key,
    published_jwks,
    rotate_keys,
)
from lti_tool.settings import Settings

SECRET = "test-secret-key"
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_kid_is_the_rfc7638_thumbprint_and_the_jwk_is_public(db_session: Session) -> None:
    tool_key = generate_tool_key(db_session, SECRET, now=NOW)

    public = RSAKey.import_key(tool_key.public_jwk)
    assert tool_key.kid == public.thumbprint()
    assert set(tool_key.public_jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert public.as_dict()["kty"] == "RSA"
    assert len(public.as_dict()["n"]) >= 342  # 2048 bits in base64url


def test_private_key_is_encrypted_at_rest_and_round_trips(db_session: Session) -> None:
    tool_key = generate_tool_key(db_session, SECRET, now=NOW)

    assert b"PRIVATE KEY" not in tool_key.private_key_pem_encrypted
    signing = decrypt_private_key(tool_key, SECRET)
    private = RSAKey.import_key(signing.private_key_pem)
    assert private.thumbprint() == tool_key.kid
    assert "private_key_pem" not in repr(signing)


def test_wrong_secret_gives_a_clear_error_that_names_nothing_secret(db_session: Session) -> None:
    tool_key = generate_tool_key(db_session, SECRET, now=NOW)

    with pytest.raises(SecretError, match="MB_SECRET_KEY differs") as raised:
        decrypt_private_key(tool_key, "another-secret")
    assert SECRET not in str(raised.value)
    assert "another-secret" not in str(raised.value)


def test_encrypt_secret_accepts_settings_or_a_key() -> None:
    settings = Settings(
        database_url="sqlite://",
        data_dir=Path("var"),
        public_base_url="http://127.0.0.1:5000",
        secret_key=SECRET,
        log_level="INFO",
        is_debug=False,
    )
    token = encrypt_secret(settings, b"client secret")
    assert token != b"client secret"
    assert decrypt_secret(SECRET, token) == b"client secret"
    with pytest.raises(SecretError):
        decrypt_secret(SECRET, token[:-4] + b"AAAA")


def test_rotation_keeps_the_old_key_published_during_the_overlap_only(db_session: Session) -> None:
    first = generate_tool_key(db_session, SECRET, now=NOW)

    second = rotate_keys(db_session, SECRET, overlap=timedelta(days=7), now=NOW + timedelta(days=30))

    assert current_signing_key(db_session, SECRET, now=NOW + timedelta(days=30)).kid == second.kid
    during = published_jwks(db_session, now=NOW + timedelta(days=36))
    assert [jwk["kid"] for jwk in during["keys"]] == [second.kid, first.kid]
    after = published_jwks(db_session, now=NOW + timedelta(days=37, seconds=1))
    assert [jwk["kid"] for jwk in after["keys"]] == [second.kid]
    assert first.is_active is False


def test_published_jwks_carries_only_public_members(db_session: Session) -> None:
    generate_tool_key(db_session, SECRET, now=NOW)

    (jwk,) = published_jwks(db_session, now=NOW)["keys"]

    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["alg"], jwk["use"]) == ("RS256", "sig")


def test_current_signing_key_creates_one_only_when_there_is_none(db_session: Session) -> None:
    created = current_signing_key(db_session, SECRET, now=NOW)
    again = current_signing_key(db_session, SECRET, now=NOW + timedelta(hours=1))

    assert created.kid == again.kid
    assert len(published_jwks(db_session, now=NOW)["keys"]) == 1
