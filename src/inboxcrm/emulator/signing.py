"""The emulator's RSA signing key: id_tokens, Pub/Sub push JWTs and the JWKS that verifies them."""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_process_key: rsa.RSAPrivateKey | None = None
_process_key_lock = threading.Lock()


def _b64u_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _shared_key() -> rsa.RSAPrivateKey:
    # Key generation costs ~0.1 s; emulators started in one process share one key.
    global _process_key
    with _process_key_lock:
        if _process_key is None:
            _process_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _process_key


class SigningKey:
    """An RS256 key with a stable ``kid`` derived from its public numbers."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None) -> None:
        self._key = private_key or _shared_key()
        numbers = self._key.public_key().public_numbers()
        self.kid = hashlib.sha1(  # noqa: S324 - an identifier, not a security function
            numbers.n.to_bytes(256, "big")
        ).hexdigest()
        self._jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64u_uint(numbers.n),
            "e": _b64u_uint(numbers.e),
        }

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the stored signing key is not an RSA key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}
