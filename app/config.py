"""Settings: every knob is an environment variable, read once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def asyncpg_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as well as `postgresql+asyncpg://`."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")


class ProgrammeSettings(BaseModel):
    start_year: int = Field(default=2020, ge=1900, le=2200)
    end_year: int = Field(default=2026, ge=1900, le=2200)

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeSettings:
        if self.end_year < self.start_year:
            raise ValueError("PROGRAMME__END_YEAR must not be before PROGRAMME__START_YEAR")
        return self

    @property
    def years(self) -> range:
        return range(self.start_year, self.end_year + 1)


class DatabaseSettings(BaseModel):
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)


class EmbeddedSettings(BaseModel):
    data_dir: Path = Path(".relance/pgdata")


class AuthSettings(BaseModel):
    read_requires_key: bool = False


class IdempotencySettings(BaseModel):
    ttl_hours: int = Field(default=24, ge=24, description="How long a first response is kept.")
    lease_seconds: int = Field(
        default=120, ge=1, description="After this, an unfinished request's key may be retried."
    )


class Settings(BaseSettings):
    """Configuration from the environment; nested groups use `__` (e.g. `DB__POOL_SIZE`)."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development", validation_alias="RELANCE_ENV"
    )
    database_url: SecretStr | None = None
    db: DatabaseSettings = DatabaseSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    programme: ProgrammeSettings = ProgrammeSettings()
    auth: AuthSettings = AuthSettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    log_level: str = "INFO"

    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set and no embedded server was started")
        return asyncpg_url(self.database_url.get_secret_value())


@lru_cache
def get_settings() -> Settings:
    return Settings()
