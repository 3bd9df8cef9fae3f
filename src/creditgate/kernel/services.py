"""The runtime's services, looked up by typed keys instead of names.

The kernel cannot name domain types, so each domain declares the key of a service it owns
(`CATALOG = ServiceKey[PriceCatalog]("catalog")` in usage/pricing.py) and the composition root
provides the value. A lookup answers the key's type, so mypy checks every use; a service that
was never provided fails loudly, naming the key and where services are provided.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ServiceKey(Generic[T]):
    """The name and type of one service."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ServiceKey({self.name!r})"


class ServiceMissing(LookupError):
    pass


class Services:
    def __init__(self) -> None:
        self._values: dict[ServiceKey[Any], Any] = {}

    def provide(self, key: ServiceKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: ServiceKey[T]) -> T:
        try:
            value: T = self._values[key]
        except KeyError:
            raise ServiceMissing(f"service {key.name!r} is not provided (composition.build_runtime "
                                 "provides the services)") from None
        return value

    def get(self, key: ServiceKey[T], default: T) -> T:
        """The service, or `default` where a runtime was built without it (some tests)."""
        value: T = self._values.get(key, default)
        return value

    def __contains__(self, key: ServiceKey[Any]) -> bool:
        return key in self._values
