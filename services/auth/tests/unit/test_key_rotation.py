"""Two signing keys live at once: the newest signs, the older still verifies."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest
from auth.adapters.keys import KeyRing
from servicekit.identity import InvalidToken, JwksVerifier


def _token(ring: KeyRing, key_index: int = 0) -> str:
    keys = [ring.active, *ring.retired]
    key = keys[key_index]
    now = int(time.time())
    claims = {"iss": "i", "aud": "a", "sub": "u1", "iat": now, "nbf": now, "exp": now + 60}
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


async def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_removed(tmp_path: Path) -> None:
    first = KeyRing.load(None, None, tmp_path)
    old_token = _token(first)
    # an operator adds a new key file: it becomes the signing key, the old one stays published
    new_path = tmp_path / "new.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    new_path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    later = time.time() + 10
    os.utime(new_path, (later, later))
    rotated = KeyRing.load(None, None, tmp_path)
    assert rotated.active.kid == "new" and [k.kid for k in rotated.retired] == [first.active.kid]
    assert len(rotated.jwks()["keys"]) == 2

    verifier = JwksVerifier(None, "i", "a", jwks=rotated.jwks())
    assert (await verifier.verify(old_token)).user_id == "u1"
    assert (await verifier.verify(_token(rotated))).user_id == "u1"

    (tmp_path / f"{first.active.kid}.pem").unlink()
    retired_gone = JwksVerifier(None, "i", "a", jwks=KeyRing.load(None, None, tmp_path).jwks())
    with pytest.raises(InvalidToken):
        await retired_gone.verify(old_token)


def test_production_key_comes_from_the_environment(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    ring = KeyRing.load(pem, "prod-1", tmp_path / "unused")
    assert ring.active.kid == "prod-1" and not (tmp_path / "unused").exists()
    from auth.settings import Settings

    with pytest.raises(ValueError, match="JWT_PRIVATE_KEY"):
        Settings(environment="production", rabbitmq_url="amqp://svc:secret@rabbit:5672/")
