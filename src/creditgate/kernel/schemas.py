"""The documented shapes every route shares: the v4 envelope, its errors, and route docs.

pydantic models are the declared contract of the API: they produce `/client/v4/openapi.json`
(FastAPI reads them natively) and tests hold the validators and the answers to them. They are
not run per request: the validators (`kernel/validation.py`, each domain's `validation.py`)
answer with the exact codes, pointers and messages the SDKs already see, and the hot routes
answer without re-serializing through a model (a handler that returns a `Response` is sent
as it is, whatever its `response_model`).

`documented(...)` builds the keyword arguments of a route decorator from these models: the
success envelope, the request body, the query parameters, the security and every error
answer with its codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema

from creditgate.kernel import errors as core_errors
from creditgate.kernel.errors import ErrorCode
from creditgate.kernel.validation import CONTROL_RANGE

T = TypeVar("T")


class Contract(BaseModel):
    """Base of every documented request and answer: unknown fields are refused (the reference's
    schemas forbid them), and documentation names fields exactly as the wire does."""

    model_config = ConfigDict(extra="forbid")


class Message(Contract):
    code: int
    message: str


class ResultInfo(Contract):
    """Paging of a list answer (Cloudflare's `result_info`)."""

    has_more: bool
    page: int = Field(ge=1)
    per_page: int = Field(ge=1)
    total_count: int = Field(ge=0)


class Envelope(Contract, Generic[T]):
    """A successful answer: `result` carries the route's own shape."""

    success: bool = Field(description="Always true here")
    errors: list[Message] = Field(max_length=0)
    messages: list[Message]
    result: T


class PagedEnvelope(Envelope[T], Generic[T]):
    result_info: ResultInfo


class ErrorSource(Contract):
    pointer: str = Field(description="JSON pointer to the bad field: into the body, or "
                                     "`/name` for a query or path parameter")


class ErrorItem(Contract):
    code: int = Field(description="Stable error code (docs/errors.md)")
    message: str
    source: ErrorSource | None = Field(default=None, description="Present when one field "
                                                                 "is at fault")


class ErrorEnvelope(Contract):
    """Every refusal: `success` false, one error, `result` null. Headers: `x-should-retry`
    (`false` when the same request cannot succeed), `Retry-After` (seconds) on 429."""

    success: bool = Field(description="Always false here")
    errors: list[ErrorItem] = Field(min_length=1)
    messages: list[Message]
    result: None


class Empty(Contract):
    """`{}`: the reference's answer to a removal or a setting."""


# Security requirement objects (kernel/openapi.py declares the schemes they name).
TOKEN_SECURITY: list[dict[str, list[str]]] = [{"apiToken": []},
                                              {"authEmail": [], "authKey": []}]
NO_SECURITY: list[dict[str, list[str]]] = []

# What any route that names an account can answer besides its own errors.
ACCOUNT_ERRORS = (core_errors.AUTH_MISSING, core_errors.AUTH_FORBIDDEN,
                  core_errors.ACCOUNT_UNREACHABLE, core_errors.INTERNAL)
# What any route that reads a JSON body can answer.
BODY_ERRORS = (core_errors.MALFORMED_JSON, core_errors.INVALID_FIELD, core_errors.MISSING_FIELD,
               core_errors.UNKNOWN_FIELD, core_errors.BODY_TOO_LARGE)
# A path parameter holding an encoded `/` no longer matches the route.
PATH_ERRORS = (core_errors.NO_ROUTE,)

# Request bodies declared by `documented(body=...)`, added to the schema's components by
# kernel/openapi.py (FastAPI registers only the models it validates itself).
REQUEST_BODIES: dict[str, type[BaseModel]] = {}
SCHEMA_REF = "#/components/schemas/{model}"


def error_responses(codes: Iterable[ErrorCode]) -> dict[int | str, dict[str, Any]]:
    """One documented answer per HTTP status, naming every code it carries."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        listed = by_status.setdefault(code.status, [])
        if code not in listed:
            listed.append(code)
    return {status: {"model": ErrorEnvelope, "description": "; ".join(
        f"`{code.code}` {code.title}" for code in sorted(listed, key=lambda c: c.code))}
        for status, listed in sorted(by_status.items())}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a model's fields (simple types, inlined)."""
    schema = model.model_json_schema(schema_generator=GenerateJsonSchema)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                 "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def request_body(model: type[BaseModel], *, required: bool = True,
                 media_type: str = "application/json") -> dict[str, Any]:
    REQUEST_BODIES[model.__name__] = model
    ref = {"$ref": SCHEMA_REF.format(model=model.__name__)}
    return {"required": required, "content": {media_type: {"schema": ref}}}


def documented(result: Any = None, *, status: int = 200, errors: Iterable[ErrorCode] = (),
               body: type[BaseModel] | None = None, body_required: bool = True,
               body_errors: bool = True,
               query: type[BaseModel] | None = None, paged: bool = False,
               parameters: Iterable[dict[str, Any]] = (),
               account: bool = True, path_params: bool = False,
               also: dict[int | str, dict[str, Any]] | None = None,
               security: list[dict[str, list[str]]] | None = None) -> dict[str, Any]:
    """Keyword arguments for `router.get/post/...`: the documented contract of one route.

    `result` is the model of the envelope's `result` (None when `also` documents a non-JSON
    answer); `errors` the route's own codes (the account, body and path errors are added);
    `parameters` raw OpenAPI parameters (headers) beside the query model's.
    """
    codes: list[ErrorCode] = list(errors)
    if account:
        codes += ACCOUNT_ERRORS
    if body is not None and body_errors:
        codes += BODY_ERRORS
    if path_params:
        codes += PATH_ERRORS
    responses: dict[int | str, dict[str, Any]] = dict(also or {})
    responses.update(error_responses(codes))
    extra: dict[str, Any] = {"security": TOKEN_SECURITY if security is None else security}
    if body is not None:
        extra["requestBody"] = request_body(body, required=body_required)
    params = [*(query_parameters(query) if query is not None else ()), *parameters]
    if params:
        extra["parameters"] = params
    kwargs: dict[str, Any] = {"status_code": status, "responses": responses,
                              "openapi_extra": extra}
    if result is not None:
        kwargs["response_model"] = (PagedEnvelope if paged else Envelope)[result]
    return kwargs


def number_schema(minimum: int | None = None, maximum: int | None = None) -> WithJsonSchema:
    """A JSON number (cents or USD, maybe with fractions), read exactly as a Decimal."""
    schema: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return WithJsonSchema(schema)


# Ids and names refuse C0/C1 control characters and DEL, as the validators do.
NO_CONTROLS = f"^[^{CONTROL_RANGE}]*$"
# A JSON number of cents (USD), fractions of a cent allowed: balances, usage costs.
CentsNumber = Annotated[Decimal, number_schema()]
# A JSON number of US dollars (the account reporting endpoints).
UsdNumber = Annotated[Decimal, number_schema()]
