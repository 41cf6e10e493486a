"""Configuration resolution, timeouts and keeping the key secret."""

from __future__ import annotations

import logging
import warnings

import pytest
from pydantic import SecretStr

from dify_integrations import AsyncDifyClient, DifyClient, Timeout
from dify_integrations.core.config import DEFAULT_BASE_URL, ClientConfig

KEY = "app-TOPSECRET-0123456789"


def test_resolve_from_arguments() -> None:
    cfg = ClientConfig.resolve(KEY, "http://127.0.0.1:5001/v1/", "u1", 12, 0)
    assert isinstance(cfg.api_key, SecretStr)
    assert cfg.api_key.get_secret_value() == KEY
    assert cfg.base_url == "http://127.0.0.1:5001/v1"
    assert cfg.user == "u1"
    # One number bounds every wait of a call (issue 12 §11).
    assert cfg.timeout == Timeout(
        connect=5.0, read=12.0, stream_idle=12.0, stream_total_idle=12.0, stop=5.0
    )
    assert cfg.max_retries == 0


def test_resolve_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFY_API_KEY", KEY)
    monkeypatch.setenv("DIFY_BASE_URL", "https://dify.example.com/v1/")
    monkeypatch.setenv("DIFY_USER", "env-user")
    cfg = ClientConfig.resolve()
    assert cfg.api_key.get_secret_value() == KEY
    assert cfg.base_url == "https://dify.example.com/v1"
    assert cfg.user == "env-user"
    assert cfg.max_retries == 2
    monkeypatch.setenv("DIFY_DATASET_API_KEY", "dataset-abc")
    assert (
        ClientConfig.resolve(env_key="DIFY_DATASET_API_KEY").api_key.get_secret_value()
        == "dataset-abc"
    )
    monkeypatch.delenv("DIFY_DATASET_API_KEY")
    # Retrievers fall back to DIFY_API_KEY.
    assert ClientConfig.resolve(env_key="DIFY_DATASET_API_KEY").api_key.get_secret_value() == KEY


def test_defaults_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="DIFY_API_KEY"):
        ClientConfig.resolve()
    with pytest.raises(ValueError, match="DIFY_DATASET_API_KEY"):
        ClientConfig.resolve(env_key="DIFY_DATASET_API_KEY")
    assert ClientConfig.resolve(KEY).base_url == DEFAULT_BASE_URL


def test_invalid_values() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        ClientConfig.resolve(KEY, max_retries=-1)
    with pytest.raises(ValueError, match="base_url"):
        ClientConfig.resolve(KEY, base_url="ftp://x")
    with pytest.raises(TypeError):
        ClientConfig.resolve(KEY, timeout="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        Timeout(connect=0)


def test_timeout_coercion() -> None:
    assert Timeout.coerce(None) == Timeout()
    assert Timeout.coerce(3) == Timeout(
        connect=3.0, read=3.0, stream_idle=3.0, stream_total_idle=3.0, stop=3.0
    )
    custom = Timeout(connect=1, read=2, stream_idle=3, stream_total_idle=4)
    assert Timeout.coerce(custom) is custom


def test_plain_http_to_remote_host_warns() -> None:
    with pytest.warns(UserWarning, match="plain http"):
        ClientConfig.resolve(KEY, base_url="http://dify.example.com/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for url in ("http://127.0.0.1:1/v1", "http://localhost:1/v1", "http://[::1]:1/v1"):
            ClientConfig.resolve(KEY, base_url=url)
        ClientConfig.resolve(KEY, base_url="https://dify.example.com/v1")


@pytest.mark.parametrize("cls", [DifyClient, AsyncDifyClient])
def test_key_never_in_repr_or_str(cls: type[DifyClient] | type[AsyncDifyClient]) -> None:
    client = cls(KEY, base_url="http://127.0.0.1:9/v1", user="u1")
    for text in (repr(client), str(client), repr(client.config), str(client.api_key)):
        assert KEY not in text
    assert client.api_key.get_secret_value() == KEY
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client.user == "u1"


def test_key_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    from dify_integrations.core.operations import Operation

    client = DifyClient(KEY, base_url="http://127.0.0.1:9/v1")
    with caplog.at_level(logging.DEBUG, logger="dify_integrations"):
        client._log(Operation(name="x", method="GET", path=f"/echo/{KEY}"), 200)
    assert caplog.records
    assert KEY not in caplog.text
