"""Tokens and secrets in the OS keyring, and the plain message when there is none."""

from __future__ import annotations

import logging

import pytest
from keyring.backends import fail, null

from app.tiktok.credentials import (
    NO_KEYRING_MESSAGE,
    KeyringCredentialStore,
    MemoryCredentialStore,
    keyring_problem,
    load_tokens,
    open_credential_store,
    save_tokens,
)
from app.tiktok.models import TokenSet
from tests.client.conftest import MemoryKeyring


def _tokens(access: str = "TTP_access_0001") -> TokenSet:
    return TokenSet.model_validate(
        {
            "access_token": access,
            "access_token_expire_in": 2_000_000_000,
            "refresh_token": "TTP_refresh_0001",
            "refresh_token_expire_in": 2_100_000_000,
            "seller_name": "Demo",
        }
    )


def test_keyring_store_round_trip_keyed_by_app_and_shop(memory_keyring: MemoryKeyring) -> None:
    store, message = open_credential_store()
    assert message is None
    assert isinstance(store, KeyringCredentialStore) and store.persistent
    save_tokens(store, "app1", "shopA", _tokens("TTP_a_access"))
    save_tokens(store, "app1", "shopB", _tokens("TTP_b_access"))
    save_tokens(store, "app2", "shopA", _tokens("TTP_c_access"))
    assert set(memory_keyring.items) == {
        ("ViralStock", "app1/shopA/tokens"),
        ("ViralStock", "app1/shopB/tokens"),
        ("ViralStock", "app2/shopA/tokens"),
    }
    loaded = load_tokens(store, "app1", "shopB")
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == "TTP_b_access"
    assert loaded.refresh_token_expire_in == 2_100_000_000
    store.set("app1", "_app", "app_secret", "own-app-secret-value")
    assert store.get("app1", "_app", "app_secret") == "own-app-secret-value"
    store.delete("app1", "_app", "app_secret")
    store.delete("app1", "_app", "app_secret")  # deleting twice is fine
    assert store.get("app1", "_app", "app_secret") is None
    assert load_tokens(store, "app1", "missing") is None


def test_unreadable_tokens_mean_reauthorize(memory_keyring: MemoryKeyring) -> None:
    store = KeyringCredentialStore()
    store.set("app1", "shopA", "tokens", "{not json")
    assert load_tokens(store, "app1", "shopA") is None


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_no_backend_says_so_and_keeps_tokens_in_memory(
    backend: object, caplog: pytest.LogCaptureFixture
) -> None:
    assert keyring_problem(backend) is not None
    with caplog.at_level(logging.WARNING, logger="app.tiktok.credentials"):
        store, message = open_credential_store(backend=backend)
    assert message == NO_KEYRING_MESSAGE
    assert "memory for this session only" in message
    assert NO_KEYRING_MESSAGE in caplog.text
    assert isinstance(store, MemoryCredentialStore) and not store.persistent
    save_tokens(store, "app1", "shopA", _tokens())
    loaded = load_tokens(store, "app1", "shopA")
    assert loaded is not None and loaded.access_token.get_secret_value() == "TTP_access_0001"
    # and nothing went into a file: the memory store is a dict
    assert "TTP_access_0001" not in repr(store)


def test_process_default_fail_backend_detected() -> None:
    import keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store, message = open_credential_store()
    finally:
        keyring.set_keyring(previous)
    assert message == NO_KEYRING_MESSAGE
    assert isinstance(store, MemoryCredentialStore)
