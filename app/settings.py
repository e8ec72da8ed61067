"""One typed settings object, read from the environment, shared by the API, CLI and workers.

pydantic-settings reads and validates every variable when the process starts, so a typo
(`MAX_BATCH=abc`, `EMAIL_TRANSPORT=smtpp`) stops it at once with one message naming every
bad variable, instead of a traceback at the first request or send that reads it.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-change-me"
MIN_SECRET_LENGTH = 16  # in production: `change-me` is as public as the default

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
CsvList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(ValueError):
    """The environment holds values Sieve cannot run with; the message lists each one."""


def _env_name(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias) if alias else name.upper()


class Settings(BaseSettings):
    """Every setting, typed. The variable is the field's name upper-cased unless aliased."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", case_sensitive=False, validate_by_name=True
    )

    sieve_env: Literal["development", "test", "staging", "production"] = "development"
    database_url: str = "sqlite://sieve.sqlite3"
    # a streaming replica for evaluation reads (docs/scaling.md); empty: the primary
    database_read_url: str = ""
    redis_url: str = "redis://localhost:6379"
    cors_origins: CsvList = ()
    secret_key: str = DEV_SECRET_KEY
    # older keys still accepted when reading signed tokens (a rotation's grace period)
    secret_key_previous: CsvList = ()
    public_url: str = "http://127.0.0.1:8000"
    max_batch: PositiveInt = 1000
    max_page: PositiveInt = 1000
    email_transport: Literal["smtp", "file", "null"] = "file"
    email_file_dir: str = ".sieve/outbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(gt=0, lt=65536)] = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_connections: PositiveInt = 4
    send_rate_per_second: PositiveFloat = 5000.0
    queue_name: str = Field(
        default="arq:queue", validation_alias=AliasChoices("SIEVE_QUEUE", "queue_name")
    )
    broadcast_batch_size: PositiveInt = 500
    broadcast_group_size: PositiveInt = 50
    broadcast_batch_seconds: PositiveFloat = 120.0
    broadcast_lease_seconds: PositiveFloat = 10.0
    # opens and clicks (app/tracking): sooner than this after sending is a machine
    track_machine_open_seconds: Annotated[float, Field(ge=0)] = 5.0
    track_machine_click_seconds: Annotated[float, Field(ge=0)] = 10.0
    flow_from_email: str = "hello@example.com"
    flow_batch_size: PositiveInt = 500
    flow_lease_seconds: PositiveFloat = 120.0
    flow_sweep_seconds: PositiveInt = 5
    flow_sweep_grace_seconds: PositiveFloat = 30.0
    flow_job_timeout: PositiveFloat = 300.0
    # segment entry and exit (docs/changes.md)
    changes_poll_seconds: PositiveFloat = 0.2
    changes_batch: PositiveInt = 5000
    changes_sweep_seconds: PositiveFloat = 10.0
    webhook_batch: PositiveInt = 500
    webhook_timeout_seconds: PositiveFloat = 10.0
    webhook_retry_initial_seconds: PositiveFloat = 10.0
    webhook_retry_max_seconds: PositiveFloat = 3600.0
    webhook_retry_hours: PositiveFloat = 25.0
    webhook_replay_window_seconds: PositiveInt = 300
    webhook_poll_seconds: PositiveFloat = 0.5
    # deliverability (docs/bounces.md)
    smtp_retry_seconds: Annotated[float, Field(ge=0)] = 30.0
    smtp_retry_initial_seconds: PositiveFloat = 1.0
    smtp_retry_max_wait_seconds: PositiveFloat = 10.0
    soft_bounce_limit: PositiveInt = 3
    unsubscribe_mailto: str = ""
    # name sets (docs/summaries.md): per workspace, and how long registering one waits
    # for the writes in flight (milliseconds)
    name_sets_per_workspace: PositiveInt = 32
    name_set_lock_timeout_ms: PositiveInt = 2000
    # inbound webhooks (docs/webhooks.md)
    webhook_max_body_bytes: PositiveInt = 1_000_000
    webhook_max_events: PositiveInt = 1000
    webhook_tolerance_seconds: PositiveInt = 300  # signed timestamps: the replay window
    webhook_receipt_days: PositiveInt = 30  # how long an event id is remembered
    # which providers' metadata headers messages carry (postmark, sendgrid): the send's
    # reference, echoed back in their webhooks
    provider_metadata: CsvList = ()
    # SNS: fetch a SubscriptionConfirmation's SubscribeURL (off: log it, confirm by hand)
    sns_confirm_subscriptions: bool = False
    # SNS signing certificates by URL (PEM), used instead of fetching them (offline, tests)
    sns_certificates: dict[str, str] = Field(default_factory=dict)
    sns_fetch_timeout_seconds: PositiveFloat = 5.0
    # templates (app/email/sandbox.py): what one render of one field may compute
    template_max_iterations: PositiveInt = 10_000
    template_max_range: PositiveInt = 10_000
    template_max_string: PositiveInt = 1_000_000
    template_max_output: PositiveInt = 2_000_000
    template_max_int_bits: PositiveInt = 4096
    template_render_seconds: PositiveFloat = 2.0
    template_render_threads: PositiveInt = 4
    # request limits (docs/api-limits.md)
    max_query_cost: PositiveInt = 500_000
    max_body_bytes: PositiveInt = 2_000_000
    max_query_chars: PositiveInt = 250_000
    request_timeout_seconds: PositiveFloat = 30.0
    db_statement_timeout_seconds: Annotated[float, Field(ge=0)] = 30.0  # 0: none
    # RFM quintile edges are reused for at most this long (docs/rfm.md); 0: always live
    rfm_edges_max_age_seconds: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    rate_limit_per_second: Annotated[float, Field(ge=0)] = 50.0  # 0: no limit
    rate_limit_burst: PositiveInt = 200
    subscription_draft_timeout_seconds: PositiveFloat = 900.0
    subscription_key_check_seconds: PositiveFloat = 30.0
    max_subscriptions_per_key: PositiveInt = 20
    # operations: logs, readiness, metrics, tracing, Redis
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    ready_timeout_seconds: PositiveFloat = 2.0
    redis_timeout_seconds: PositiveFloat = 2.0
    unavailable_retry_seconds: PositiveInt = 5
    worker_metrics_port: Annotated[int, Field(ge=0, lt=65536)] = 9100
    worker_redis_wait_seconds: Annotated[int, Field(ge=0)] = 60
    worker_shutdown_seconds: PositiveFloat = 20
    tracing_enabled: bool = False
    metrics_max_operations: PositiveInt = 500
    migration_lock_timeout_seconds: PositiveInt = 600
    # CSV imports of people (docs/imports.md)
    import_max_bytes: PositiveInt = 2_000_000_000
    import_max_rows: PositiveInt = 10_000_000
    import_max_columns: PositiveInt = 250
    import_max_errors: PositiveInt = 100_000  # stored for the report; more are counted
    # at most 4,000: the suppression list's multi-row insert binds 8 values a row (PostgreSQL
    # takes 32,767 at most)
    import_chunk_rows: Annotated[int, Field(gt=0, le=4000)] = 2_000
    import_max_active: PositiveInt = 2  # queued or running imports per workspace
    import_stale_seconds: PositiveFloat = 120.0
    import_spool_dir: str = ""  # uploads wait here for their job (empty: the system's temp)

    @field_validator("sieve_env", "email_transport", "log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cors_origins", "secret_key_previous", "provider_metadata", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("provider_metadata")
    @classmethod
    def _metadata_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted({v.lower() for v in value} - {"postmark", "sendgrid"})
        if unknown:
            raise ValueError(f"{unknown[0]} is not one of postmark, sendgrid")
        return tuple(v.lower() for v in value)

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _production_secret(self) -> Settings:
        # sequential ids plus a public key would let anyone mint unsubscribe links
        if self.sieve_env == "production" and self.secret_key in {DEV_SECRET_KEY, ""}:
            raise ValueError(
                "SECRET_KEY: the development default cannot be used when SIEVE_ENV=production"
            )
        if self.sieve_env == "production" and len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"SECRET_KEY: at least {MIN_SECRET_LENGTH} characters when SIEVE_ENV=production"
            )
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The signing key first, then the previous ones still accepted when reading."""
        return (self.secret_key, *self.secret_key_previous)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, validated like the environment's."""
        return Settings(**{**self.model_dump(), **changes})

    def startup_warnings(self) -> list[str]:
        """What a process should log when it starts with this configuration."""
        if self.secret_key == DEV_SECRET_KEY:
            return [
                "SECRET_KEY is the public development default: anyone can forge unsubscribe"
                " links; set it (SIEVE_ENV=production refuses to start without it)"
            ]
        return []


def _describe(error: Any) -> str:
    location = error["loc"][0] if error["loc"] else ""
    name = _env_name(str(location)) if location in Settings.model_fields else str(location)
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    # never echo a secret, nor a URL (it may carry a password)
    sensitive = any(part in name for part in ("SECRET", "PASSWORD", "_URL"))
    if isinstance(given, str | int | float) and not sensitive:
        return f"{name}={given!r}: {message}" if name else message
    return f"{name}: {message}" if name else message


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate settings (from `env` when given, else the process environment).

    Raises SettingsError naming every bad variable at once.
    """
    try:
        if env is None:
            return Settings()
        known = {_env_name(name).lower(): name for name in Settings.model_fields}
        values = {known[k.lower()]: v for k, v in env.items() if k.lower() in known}
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise SettingsError(f"invalid configuration:\n{problems}") from None


def _settings_at_start() -> Settings:
    """The process's settings; a bad environment stops it with the list, not a traceback."""
    try:
        return load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"sieve: {exc}\n")
        raise SystemExit(2) from None


settings = _settings_at_start()
