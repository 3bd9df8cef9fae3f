"""Spending limits and authorizations: the gateway's pre-flight check and its cap."""
