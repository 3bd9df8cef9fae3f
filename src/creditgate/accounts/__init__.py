"""Accounts, API tokens, users with legacy global keys, and permission groups."""
