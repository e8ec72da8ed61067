"""One typed settings object, read from the environment, shared by the API, CLI and workers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://sieve.sqlite3"
    redis_url: str = "redis://localhost:6379"
    cors_origins: tuple[str, ...] = ()
    secret_key: str = "dev-insecure-secret-change-me"
    public_url: str = "http://127.0.0.1:8000"
    max_batch: int = 1000
    max_page: int = 1000
    email_transport: str = "file"
    email_file_dir: str = ".sieve/outbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_connections: int = 4
    send_rate_per_second: float = 5000.0
    queue_name: str = "arq:queue"
    broadcast_batch_size: int = 500
    broadcast_group_size: int = 50
    broadcast_batch_seconds: float = 120.0
    broadcast_lease_seconds: float = 10.0
    flow_from_email: str = "hello@example.com"
    flow_batch_size: int = 500
    flow_lease_seconds: float = 120.0
    flow_sweep_seconds: int = 5
    flow_sweep_grace_seconds: float = 30.0
    flow_job_timeout: float = 300.0
    # deliverability (docs/bounces.md)
    smtp_retry_seconds: float = 30.0
    smtp_retry_initial_seconds: float = 1.0
    smtp_retry_max_wait_seconds: float = 10.0
    soft_bounce_limit: int = 3
    unsubscribe_mailto: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment; every value has a zero-setup default."""
    env = dict(os.environ if env is None else env)
    default = Settings()
    return Settings(
        database_url=env.get("DATABASE_URL", default.database_url),
        redis_url=env.get("REDIS_URL", default.redis_url),
        cors_origins=_csv(env.get("CORS_ORIGINS", "")),
        secret_key=env.get("SECRET_KEY", default.secret_key),
        public_url=env.get("PUBLIC_URL", default.public_url).rstrip("/"),
        max_batch=int(env.get("MAX_BATCH", default.max_batch)),
        max_page=int(env.get("MAX_PAGE", default.max_page)),
        email_transport=env.get("EMAIL_TRANSPORT", default.email_transport),
        email_file_dir=env.get("EMAIL_FILE_DIR", default.email_file_dir),
        smtp_host=env.get("SMTP_HOST", default.smtp_host),
        smtp_port=int(env.get("SMTP_PORT", default.smtp_port)),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_tls=_bool(env.get("SMTP_TLS", "false")),
        smtp_starttls=_bool(env.get("SMTP_STARTTLS", "false")),
        smtp_connections=int(env.get("SMTP_CONNECTIONS", default.smtp_connections)),
        send_rate_per_second=float(env.get("SEND_RATE_PER_SECOND", default.send_rate_per_second)),
        queue_name=env.get("SIEVE_QUEUE", default.queue_name),
        broadcast_batch_size=int(env.get("BROADCAST_BATCH_SIZE", default.broadcast_batch_size)),
        broadcast_group_size=int(env.get("BROADCAST_GROUP_SIZE", default.broadcast_group_size)),
        broadcast_batch_seconds=float(
            env.get("BROADCAST_BATCH_SECONDS", default.broadcast_batch_seconds)
        ),
        broadcast_lease_seconds=float(
            env.get("BROADCAST_LEASE_SECONDS", default.broadcast_lease_seconds)
        ),
        flow_from_email=env.get("FLOW_FROM_EMAIL", default.flow_from_email),
        flow_batch_size=int(env.get("FLOW_BATCH_SIZE", default.flow_batch_size)),
        flow_lease_seconds=float(env.get("FLOW_LEASE_SECONDS", default.flow_lease_seconds)),
        flow_sweep_seconds=int(env.get("FLOW_SWEEP_SECONDS", default.flow_sweep_seconds)),
        flow_sweep_grace_seconds=float(
            env.get("FLOW_SWEEP_GRACE_SECONDS", default.flow_sweep_grace_seconds)
        ),
        flow_job_timeout=float(env.get("FLOW_JOB_TIMEOUT", default.flow_job_timeout)),
        smtp_retry_seconds=float(env.get("SMTP_RETRY_SECONDS", default.smtp_retry_seconds)),
        smtp_retry_initial_seconds=float(
            env.get("SMTP_RETRY_INITIAL_SECONDS", default.smtp_retry_initial_seconds)
        ),
        smtp_retry_max_wait_seconds=float(
            env.get("SMTP_RETRY_MAX_WAIT_SECONDS", default.smtp_retry_max_wait_seconds)
        ),
        soft_bounce_limit=int(env.get("SOFT_BOUNCE_LIMIT", default.soft_bounce_limit)),
        unsubscribe_mailto=env.get("UNSUBSCRIBE_MAILTO", "").strip(),
    )


settings = load_settings()
