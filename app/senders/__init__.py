"""Sender identities: the name, address and Reply-To a workspace's email comes from."""
