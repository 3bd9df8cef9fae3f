"""Request bodies of the payments routes: unknown fields refused, amounts integer cents."""

from __future__ import annotations

from typing import Any

from creditgate.kernel import errors as core_errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.requests import has_control
from creditgate.payments import errors


def check_fields(body: dict[str, Any], *, required: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
    for name in body:
        if name not in required and name not in optional:
            raise ApiError(core_errors.UNKNOWN_FIELD, f"/{name}: unknown field", f"/{name}")
    for name in required:
        if name not in body:
            raise ApiError(core_errors.MISSING_FIELD, f"/{name}: field required", f"/{name}")


def cents(body: dict[str, Any], name: str, *, minimum: int, maximum: int | None) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(core_errors.INVALID_FIELD,
                       f"/{name}: must be an integer number of cents", f"/{name}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ApiError(errors.AMOUNT_OUT_OF_RANGE,
                       f"/{name}: must be at least {minimum}{upper} cents", f"/{name}")
    return value


MAX_ID_LENGTH = 128


def optional_id(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if (not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH
            or has_control(value)):
        raise ApiError(core_errors.INVALID_FIELD, f"/{name}: must be an id of 1 to "
                       f"{MAX_ID_LENGTH} characters without control characters", f"/{name}")
    return value
