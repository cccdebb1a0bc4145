"""The Fernet token vault: encryption, key order, rotation and refusal of foreign ciphertexts."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from inboxcrm.adapters.token_vault import TokenDecryptError, TokenVault, vault_for
from inboxcrm.config import Settings


def _key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    vault = TokenVault([_key()])
    secret = "1//0refresh-token-value"
    encrypted = vault.encrypt(secret)
    assert secret.encode() not in encrypted
    assert vault.decrypt(encrypted) == secret
    assert vault.encrypt(secret) != encrypted  # random IV: no equality leak


def test_new_values_use_the_first_key_and_any_key_decrypts() -> None:
    key_a, key_b = _key(), _key()
    under_a = TokenVault([key_a]).encrypt("old")
    both = TokenVault([key_b, key_a])
    assert both.decrypt(under_a) == "old"
    fresh = both.encrypt("new")
    assert TokenVault([key_b]).decrypt(fresh) == "new"
    with pytest.raises(TokenDecryptError):
        TokenVault([key_a]).decrypt(fresh)


def test_rotate_moves_a_value_to_the_newest_key() -> None:
    key_a, key_b = _key(), _key()
    under_a = TokenVault([key_a]).encrypt("token")
    rotated = TokenVault([key_b, key_a]).rotate(under_a)
    assert TokenVault([key_b]).decrypt(rotated) == "token"
    with pytest.raises(TokenDecryptError):
        TokenVault([key_a]).decrypt(rotated)


def test_tampered_or_foreign_ciphertext_is_refused_without_leaking() -> None:
    vault = TokenVault([_key()])
    encrypted = bytearray(vault.encrypt("secret-value"))
    encrypted[-5] ^= 1
    with pytest.raises(TokenDecryptError) as info:
        vault.decrypt(bytes(encrypted))
    assert "secret-value" not in str(info.value)
    with pytest.raises(TokenDecryptError):
        vault.rotate(TokenVault([_key()]).encrypt("x"))
    with pytest.raises(TokenDecryptError):
        vault.decrypt(b"not a fernet token")


def test_bad_key_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenVault([])
    with pytest.raises(ValueError, match="not a Fernet key"):
        TokenVault(["too-short"])


def test_optional_helpers_pass_none_through() -> None:
    vault = TokenVault([_key()])
    assert vault.encrypt_optional(None) is None
    assert vault.decrypt_optional(None) is None
    assert vault.decrypt_optional(vault.encrypt_optional("x")) == "x"


def test_vault_for_reads_settings_keys_newest_first() -> None:
    key_a, key_b = _key(), _key()
    settings = Settings(environment="test", fernet_keys=SecretStr(f" {key_b} , {key_a} "))
    vault = vault_for(settings)
    assert TokenVault([key_b]).decrypt(vault.encrypt("v")) == "v"
    assert "keys=2" in repr(vault)
