"""Encryption at rest for OAuth tokens and other stored secrets (Fernet / MultiFernet).

Keys come from ``settings.fernet_key_list``, newest first. New values are always encrypted under
the newest key; any listed key decrypts. Rotation (:meth:`TokenVault.rotate`) re-encrypts a value
under the newest key, so an old key can be dropped from ``INBOXCRM_FERNET_KEYS`` once every stored
value has been rotated (``inboxcrm keys rotate``).

Ciphertexts are Fernet tokens (authenticated: a changed byte fails to decrypt). Plaintexts never
appear in exceptions or reprs.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from inboxcrm.config import Settings

__all__ = ["TokenDecryptError", "TokenVault", "vault_for"]


class TokenDecryptError(Exception):
    """A stored secret could not be decrypted with any configured key (or was tampered with)."""


class TokenVault:
    """Encrypts and decrypts short secrets under a list of Fernet keys (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed (INBOXCRM_FERNET_KEYS)")
        try:
            fernets = [Fernet(key.encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError(
                "INBOXCRM_FERNET_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from exc
        self._multi = MultiFernet(fernets)
        self._key_count = len(fernets)

    def __repr__(self) -> str:
        return f"TokenVault(keys={self._key_count})"

    def encrypt(self, plaintext: str) -> bytes:
        """``plaintext`` encrypted under the newest key."""
        return self._multi.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        """The plaintext of ``ciphertext``; :class:`TokenDecryptError` if no key opens it."""
        try:
            return self._multi.decrypt(bytes(ciphertext)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError, TypeError) as exc:
            raise TokenDecryptError(
                "stored secret cannot be decrypted with the current keys"
            ) from (None if isinstance(exc, InvalidToken) else exc)

    def encrypt_optional(self, plaintext: str | None) -> bytes | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, ciphertext: bytes | None) -> str | None:
        return None if ciphertext is None else self.decrypt(ciphertext)

    def rotate(self, ciphertext: bytes) -> bytes:
        """``ciphertext`` re-encrypted under the newest key (the plaintext is unchanged)."""
        try:
            return self._multi.rotate(bytes(ciphertext))
        except InvalidToken:
            raise TokenDecryptError(
                "stored secret cannot be decrypted with the current keys"
            ) from None


def vault_for(settings: Settings) -> TokenVault:
    """The vault for the keys in ``settings`` (cheap to build; build it where needed)."""
    return TokenVault(settings.fernet_key_list)
