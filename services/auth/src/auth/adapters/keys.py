"""Ed25519 signing keys: from JWT_PRIVATE_KEY in production, generated under DATA_DIR in
development. Every key under the directory is published in the JWKS, so a rotated-out key
keeps verifying tokens until it is removed."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64(raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


def _kid_of(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:16]


def _load_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("JWT private key must be Ed25519")
    return key


class KeyRing:
    """The active signing key plus older keys still published for verification."""

    def __init__(self, active: SigningKey, retired: list[SigningKey]) -> None:
        self.active = active
        self.retired = retired

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in [self.active, *self.retired]]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A JWT of `claims` (EdDSA), signed by the active key and naming it in `kid`."""
        return jwt.encode(
            claims, self.active.private, algorithm="EdDSA", headers={"kid": self.active.kid}
        )

    @classmethod
    def load(cls, private_pem: str | None, key_id: str | None, key_dir: Path) -> KeyRing:
        if private_pem:
            private = _load_pem(private_pem.encode())
            active = SigningKey(key_id or _kid_of(private), private)
            return cls(active, [])
        key_dir.mkdir(parents=True, exist_ok=True)
        files = sorted(key_dir.glob("*.pem"), key=lambda p: p.stat().st_mtime)
        if not files:
            private = Ed25519PrivateKey.generate()
            path = key_dir / f"{_kid_of(private)}.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(
                    private.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            files = [path]
        keys = [SigningKey(p.stem, _load_pem(p.read_bytes())) for p in files]
        return cls(keys[-1], keys[:-1])
