"""The broadcast fixtures (a real SMTP server, in-process worker settings) for template tests."""

from tests.broadcasts.conftest import mailbox, send_config, smtp_server, worker_ctx

__all__ = ["mailbox", "send_config", "smtp_server", "worker_ctx"]
