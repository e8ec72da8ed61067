"""Inbound webhooks: what an email provider reports after accepting a message (docs/webhooks.md)."""
