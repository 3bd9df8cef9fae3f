"""The customer dashboard (/dashboard) and the operator console (/admin): server-rendered pages
over the domains' own use cases, with the API's permission checks (docs/dashboard.md)."""
