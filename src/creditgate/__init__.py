"""creditgate: self-hostable billing for AI gateways."""

__version__ = "0.1.0"
