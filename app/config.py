"""Settings: every knob is an environment variable, read once."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not what a browser sends in `Origin` (scheme://host[:port]), or None.

    Starlette compares origins as exact strings, so anything else never matches a browser,
    except `null`: sandboxed frames and `file://` pages all send it, so allowing it allows them.
    """
    if origin == "*":
        return None
    if origin == "null":
        return "`null` is the origin of every sandboxed frame and file:// page"
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return f"{origin!r} is not a URL"
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return f"{origin!r} is not an http(s) origin"
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    canonical = f"{parts.scheme}://{netloc}"
    if origin != canonical:  # a path, query, fragment, user info, upper case, a trailing slash
        return f"{origin!r} is not an origin: write it scheme://host[:port], e.g. {canonical!r}"
    return None


def is_loopback(origin: str) -> bool:
    """Whether a well-formed origin names this machine (localhost or a loopback address)."""
    host = urlsplit(origin).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def asyncpg_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as well as `postgresql+asyncpg://`."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")


class ProgrammeSettings(BaseModel):
    start_year: int = Field(default=2020, ge=1900, le=2200)
    end_year: int = Field(default=2026, ge=1900, le=2200)
    # The first programme only (migration and `relance seed`); programmes carry their own period.
    code: str = Field(default="", pattern=r"^[A-Za-z0-9_.\-]{0,64}$")

    @property
    def first_code(self) -> str:
        return self.code or f"AMP-RR-{self.start_year}-{self.end_year}"

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeSettings:
        if self.end_year < self.start_year:
            raise ValueError("PROGRAMME__END_YEAR must not be before PROGRAMME__START_YEAR")
        return self

    @property
    def years(self) -> range:
        return range(self.start_year, self.end_year + 1)


class DatabaseSettings(BaseModel):
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=0, ge=0)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    command_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Client-side bound on each round trip to the database (ping, BEGIN, statement, "
            "fetch, COMMIT): a database that stops answering without closing is a 503 then."
        ),
    )
    statement_timeout_ms: int = Field(default=30_000, ge=0)


class EmbeddedSettings(BaseModel):
    data_dir: Path = Path(".relance/pgdata")


class AuthSettings(BaseModel):
    read_requires_key: bool = False


class MetricsSettings(BaseModel):
    """HTTP Basic credentials for /metrics, like node_exporter's web config: Basic rather than
    Bearer so that the API-key authentication never takes them for an unknown key."""

    username: str = "metrics"
    password: SecretStr | None = Field(
        default=None, description="When set, /metrics needs these Basic credentials."
    )


class IdempotencySettings(BaseModel):
    ttl_hours: int = Field(default=24, ge=24, description="How long a first response is kept.")
    lease_seconds: int = Field(
        default=120, ge=1, description="After this, an unfinished request's key may be retried."
    )


class RateLimitSettings(BaseModel):
    per_key: str | None = Field(default=None, examples=["1200/minute"])
    anonymous: str | None = Field(default=None, examples=["300/minute"])
    redis_prefix: str = "relance-ratelimit"
    heavy_concurrent: int = Field(
        default=2,
        ge=0,
        description=(
            "Heavy requests (aggregates, CSV exports, progress) one client (API key, else "
            "address) may have in flight in one process; more are 429 (0: no limit)."
        ),
    )

    @field_validator("per_key", "anonymous")
    @classmethod
    def _parsable(cls, value: str | None) -> str | None:
        if value:
            from limits import parse

            parse(value)
        return value or None


class AggregateSettings(BaseModel):
    max_cells: int = Field(
        default=50_000,
        ge=1,
        description="A drilldown grouping into more cells than this is refused with 400.",
    )
    export_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A CSV export whose client reads nothing for this long is abandoned.",
    )


class Settings(BaseSettings):
    """Configuration from the environment; nested groups use `__` (e.g. `DB__POOL_SIZE`)."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development", validation_alias="RELANCE_ENV"
    )
    database_url: SecretStr | None = None
    database_read_url: SecretStr | None = Field(
        default=None,
        description=(
            "A streaming replica of DATABASE_URL: lists, aggregates, exports and the change feed "
            "read there (a client's own writes excepted: `Relance-Read-After`)."
        ),
    )
    database_pgbouncer: bool = Field(
        default=False,
        description=(
            "DATABASE_URL (and DATABASE_READ_URL) lead to PgBouncer in transaction pooling mode: "
            "no prepared statement outlives its transaction, every read runs in a transaction, "
            "and no startup parameter PgBouncer refuses is sent (set statement_timeout on the "
            "role instead)."
        ),
    )
    db: DatabaseSettings = DatabaseSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    programme: ProgrammeSettings = ProgrammeSettings()
    auth: AuthSettings = AuthSettings()
    metrics: MetricsSettings = MetricsSettings()
    redis_url: SecretStr | None = None
    rate_limit: RateLimitSettings = RateLimitSettings()
    aggregates: AggregateSettings = AggregateSettings()
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    body_read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A body not received whole within this is answered 408 (nothing ran).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For/-Proto are believed (addresses, networks, *).",
    )
    idempotency: IdempotencySettings = IdempotencySettings()
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector (e.g. http://otel-collector:4318): traces on when set.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="One JSON object per line; `text` for a person; `auto`: text on a terminal.",
    )

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        problems = [p for p in map(origin_problem, origins) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return origins

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if entry != "*":
                ipaddress.ip_network(entry)  # an address or a network; ValueError otherwise
        return entries

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def production_problems(self) -> list[str]:
        """Settings that are fine on a laptop and unsafe in production."""
        problems = []
        if self.database_url is None:
            problems.append("DATABASE_URL is unset: the embedded PostgreSQL is for development")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            problems.append("CORS_ORIGINS=* with CORS_ALLOW_CREDENTIALS=true lets any site act")
        # Checked again here: settings built in code (model_copy) skip the field validator.
        problems += [f"CORS_ORIGINS: {p}" for p in map(origin_problem, self.cors_origins) if p]
        origins = [o for o in self.cors_origins if o != "*" and not origin_problem(o)]
        if any(is_loopback(o) for o in origins):
            problems.append("CORS_ORIGINS lists localhost or a loopback address")
        if any(o.startswith("http://") for o in origins):
            problems.append("CORS_ORIGINS lists a plain-http origin")
        if self.log_level == "DEBUG":
            problems.append("LOG_LEVEL=DEBUG may log request details")
        return problems

    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set and no embedded server was started")
        return asyncpg_url(self.database_url.get_secret_value())

    def sqlalchemy_read_url(self) -> str | None:
        """The replica's URL, or None when every read goes to DATABASE_URL."""
        if self.database_read_url is None:
            return None
        return asyncpg_url(self.database_read_url.get_secret_value())


@lru_cache
def get_settings() -> Settings:
    return Settings()
