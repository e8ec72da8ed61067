"""Admin-scoped operations: managing the calling workspace's API keys."""
