"""Health, readiness and metrics endpoints, outside /client/v4 (docs/operations.md)."""
