"""API keys: scopes, secrets and the operations an operator or an admin key performs."""
