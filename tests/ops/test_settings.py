"""Settings are validated when a process starts; secrets can be rotated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.email.unsubscribe import make_token, read_token, unsubscribe_url
from app.settings import DEV_SECRET_KEY, SettingsError, load_settings


def start_sieve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in env}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_bad_variable_is_named_in_one_error():
    with pytest.raises(SettingsError) as caught:
        load_settings({"MAX_BATCH": "abc", "EMAIL_TRANSPORT": "smtpp", "SMTP_PORT": "0"})
    message = str(caught.value)
    assert "MAX_BATCH='abc'" in message
    assert "EMAIL_TRANSPORT='smtpp'" in message and "'smtp', 'file' or 'null'" in message
    assert "SMTP_PORT='0'" in message


def test_values_are_typed_and_defaults_hold():
    config = load_settings(
        {"CORS_ORIGINS": "https://a.example, https://b.example", "SIEVE_QUEUE": "q1",
         "PUBLIC_URL": "https://mail.example/", "SMTP_TLS": "yes", "EMAIL_TRANSPORT": "SMTP"}
    )  # fmt: skip
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.queue_name == "q1"
    assert config.public_url == "https://mail.example"
    assert config.smtp_tls is True and config.email_transport == "smtp"
    assert load_settings({}).max_batch == 1000


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"PUBLIC_URL": "example.com"}, "PUBLIC_URL"),
        ({"SIEVE_ENV": "prod"}, "SIEVE_ENV"),
        ({"SEND_RATE_PER_SECOND": "-1"}, "SEND_RATE_PER_SECOND"),
    ],
)
def test_malformed_values_are_refused(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_production_refuses_the_default_secret_and_others_warn():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings({"SIEVE_ENV": "production"})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings({"SIEVE_ENV": "production", "SECRET_KEY": DEV_SECRET_KEY})
    with pytest.raises(SettingsError, match="at least 16 characters"):
        load_settings({"SIEVE_ENV": "production", "SECRET_KEY": "change-me"})
    assert (
        load_settings({"SIEVE_ENV": "production", "SECRET_KEY": "s" * 32}).startup_warnings() == []
    )
    warnings = load_settings({"SIEVE_ENV": "development"}).startup_warnings()
    assert len(warnings) == 1 and "SECRET_KEY" in warnings[0]


def test_a_bad_environment_stops_the_cli_with_a_message_not_a_traceback():
    started = start_sieve({"MAX_BATCH": "abc", "EMAIL_TRANSPORT": "smtpp"}, "schema")
    assert started.returncode == 2
    assert "Traceback" not in started.stderr
    assert "MAX_BATCH='abc'" in started.stderr and "EMAIL_TRANSPORT='smtpp'" in started.stderr
    assert started.stdout == ""


def test_production_without_a_secret_does_not_start():
    started = start_sieve({"SIEVE_ENV": "production", "SECRET_KEY": ""}, "schema")
    assert started.returncode == 2 and "Traceback" not in started.stderr
    assert "SECRET_KEY" in started.stderr


def test_replace_validates_like_the_environment():
    config = load_settings({})
    assert config.replace(max_batch=10).max_batch == 10
    with pytest.raises(ValueError, match="max_batch"):
        config.replace(max_batch=0)


def test_unsubscribe_tokens_signed_with_a_previous_key_are_still_read():
    # given a token in an inbox, signed before the key was rotated
    old_token = make_token(3, 42, secret="old-key")
    # when the new key signs, with the old one kept as previous
    new_token = make_token(3, 42, secret="new-key")
    # then both read, each only with the keys that signed it
    assert read_token(new_token, "new-key", previous=["old-key"]) == (3, 42)
    assert read_token(old_token, "new-key", previous=["old-key"]) == (3, 42)
    assert read_token(old_token, "new-key") is None
    assert read_token(old_token, "other", previous=["also-other"]) is None
    assert old_token != new_token


def test_default_key_list_comes_from_the_settings(monkeypatch):
    import app.email.unsubscribe as unsubscribe

    rotated = load_settings({"SECRET_KEY": "new-key", "SECRET_KEY_PREVIOUS": "old-key, older"})
    monkeypatch.setattr(unsubscribe, "settings", rotated)
    assert rotated.secret_keys == ("new-key", "old-key", "older")
    assert read_token(make_token(1, 2, secret="older")) == (1, 2)
    assert read_token(make_token(1, 2, secret="oldest")) is None
    url = unsubscribe_url(1, 2, rotated)
    assert url.endswith(make_token(1, 2, secret="new-key"))


def test_refused_secrets_and_urls_are_not_echoed():
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATABASE_URL": "mysql://app:hunter2@db", "SIEVE_ENV": "production"})
    assert "DATABASE_URL" in str(caught.value) and "hunter2" not in str(caught.value)
