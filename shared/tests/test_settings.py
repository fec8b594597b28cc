"""Settings: local mode runs with defaults; production refuses to start without the identity key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from homecraft_shared.identity import generate_keypair
from homecraft_shared.settings import ServiceSettings


class CatalogLikeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESTSVC_", extra="ignore")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "IDENTITY_PUBLIC_KEY", "TESTSVC_ENVIRONMENT", "TESTSVC_IDENTITY_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_local_mode_needs_no_secrets() -> None:
    settings = CatalogLikeSettings()
    assert settings.environment == "local"
    assert settings.identity_public_key is None
    assert settings.database_url.startswith("sqlite+aiosqlite://")


def test_production_without_identity_key_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_ENVIRONMENT", "production")
    with pytest.raises(ValidationError) as caught:
        CatalogLikeSettings()
    message = str(caught.value)
    assert "these secrets must be set outside local mode" in message
    assert "TESTSVC_IDENTITY_PUBLIC_KEY" in message  # the exact variable to set, with the service's prefix


def test_production_with_identity_key_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    _, public = generate_keypair()
    monkeypatch.setenv("TESTSVC_ENVIRONMENT", "production")
    monkeypatch.setenv("TESTSVC_IDENTITY_PUBLIC_KEY", public)
    settings = CatalogLikeSettings()
    assert settings.environment == "production"
    assert settings.identity_public_key is not None
    assert settings.identity_public_key.get_secret_value() == public
    assert public not in repr(settings)  # a secret never shows in logs


def test_empty_identity_key_counts_as_missing() -> None:
    with pytest.raises(ValidationError, match="IDENTITY_PUBLIC_KEY"):
        ServiceSettings(environment="production", identity_public_key="")


def test_unknown_environment_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(environment="staging")  # type: ignore[arg-type]


class GatewayLikeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESTGW_", extra="ignore")
    required_settings = ("catalog_url",)

    catalog_url: str = "http://127.0.0.1:8101"


def test_production_refuses_local_defaults_of_required_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    _, public = generate_keypair()
    monkeypatch.setenv("TESTGW_ENVIRONMENT", "production")
    monkeypatch.setenv("TESTGW_IDENTITY_PUBLIC_KEY", public)
    with pytest.raises(ValidationError, match=r"must be set outside local mode.*TESTGW_CATALOG_URL"):
        GatewayLikeSettings()
    assert GatewayLikeSettings(environment="local").catalog_url == "http://127.0.0.1:8101"  # local keeps loopback
    monkeypatch.setenv("TESTGW_CATALOG_URL", "http://catalog:8000")
    assert GatewayLikeSettings().catalog_url == "http://catalog:8000"
