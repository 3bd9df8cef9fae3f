"""Plugins that put creditgate in front of the gateways people run (docs/gateways.md)."""
