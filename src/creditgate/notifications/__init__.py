"""Notifications: billing events (low balance, failed payments, reached limits…), delivered as
signed webhooks (Standard Webhooks) and as email, by the worker, at least once."""
