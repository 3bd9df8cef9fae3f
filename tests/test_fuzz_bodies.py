"""Fuzzing (issue 19): every route that takes a JSON body, and the query and path parameters of
the GET routes, with hostile input grown from a valid request per route.

For every generated request:
- the answer is never a 5xx;
- it is the Cloudflare v4 envelope (`success`, `errors`, `messages`, `result`), an error with a
  code docs/errors.md lists for that status (a PDF or a FOCUS export may answer 2xx in its own
  format);
- a refusal (4xx), and any GET, leaves every table exactly as it was (all rows compared);
- the running balance still equals the sum of the ledger.

The examples per route are bounded and derandomized so CI runs the same requests every time:
CREDITGATE_FUZZ_EXAMPLES (default 50) on SQLite, a fifth of that on PostgreSQL. To search
longer by hand:

    CREDITGATE_FUZZ_EXAMPLES=3000 .venv/bin/pytest -q tests/test_fuzz_bodies.py -k sqlite
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table
from starlette.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import GROUP_IDS
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.invoices.links import pdf_url
from creditgate.kernel.clock import HOUR_MS, ManualClock
from creditgate.kernel.errors import REGISTRY
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from creditgate.tables import metadata
from tests.conftest import START, Account
from tests.fuzzing import (
    CONTROL_TEXT,
    INTEGERS,
    NAN_LIKE,
    QUERY_VALUES,
    URL_TEXT,
    bodies,
    encode,
    field_by_field,
    query_texts,
)
from tests.helpers import balance_microcents, grant_cents

EXAMPLES = int(os.environ.get("CREDITGATE_FUZZ_EXAMPLES", "50"))
WEBHOOK_SECRET = "whsec_fuzz"
BILLING = "ai-gateway/billing"
ENVELOPE_KEYS = {"success", "errors", "messages", "result"}


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    """conftest's runtime with webhooks configured, so signed bodies reach the handler."""
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        stripe_webhook_secret=WEBHOOK_SECRET)
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


Rows = dict[str, list[tuple[Any, ...]]]


# --- the scene: an account with credits, a card, a hold, a top-up and a billing profile -----

@dataclass
class Scene:
    runtime: Runtime
    account: Account
    clients: dict[str, TestClient]  # "fast": the app as served; "framework": no fast lane
    hold_id: str = "h-fuzz"
    topup_id: str = ""
    operator_headers: dict[str, str] = field(default_factory=dict)
    db_name: str = ""
    # Every table after the last request: nothing else writes, so it is the state before the
    # next one (one snapshot per request instead of two).
    rows: Rows | None = None

    def call(self, method: str, path: str, body: Any) -> Any:
        response = self.clients["fast"].request(method, self.account.url(path), json=body,
                                                headers=self.account.headers)
        assert response.status_code < 300, response.text
        return response.json()["result"]


@pytest.fixture
def scene(runtime: Runtime, account: Account, client: TestClient) -> Iterator[Scene]:
    with TestClient(create_app(runtime, fast_lane=False),
                    raise_server_exceptions=False) as framework:
        s = Scene(runtime, account, {"fast": client, "framework": framework},
                  db_name=runtime.db.engine.dialect.name)
        grant_cents(runtime, account.id, 1_000_000)
        # The first link signed generates the server's key (kernel/secret_key.py): once, at
        # start, not as a side effect of a read under test.
        runtime.secret_key()
        s.call("POST", "billing/profile/payment-method", {"payment_method": "pm_card_visa"})
        s.topup_id = s.call("POST", f"{BILLING}/topup", {"amount": 5000})["payment_intent_id"]
        s.call("POST", f"{BILLING}/authorizations", {"id": s.hold_id, "amount": 500})
        s.call("POST", "billing/profile", PROFILE)
        with runtime.db.write() as conn:
            operator = accounts_service.create_operator_token(conn, name="fuzz", now_ms=START)
        s.operator_headers = {"Authorization": f"Bearer {operator.secret}"}
        yield s


PROFILE = {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
           "address": "12 St James's Square", "address2": "", "city": "London",
           "state": "London", "zipcode": "SW1Y 4JH", "country": "gb", "vat": "GB123456789",
           "tax_id_type": "gb_vat", "billing_email": "billing@engines.example",
           "secondary_billing_email": None, "telephone": "+44 20 7946 0000",
           "card_number": "4242 4242 4242 4242", "card_expiry_month": 12,
           "card_expiry_year": 2099, "payment_nonce": "nonce-123", "validation_code": "1111",
           "device_data": "fingerprint", "preferred_locale": "en-GB",
           "payment_country": "DE", "payment_email": "pay@engines.example"}


# --- requests -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    method: str
    path: str  # under the account, or absolute when it starts with "/"
    body: bytes | None = None
    lane: str = "fast"
    headers: tuple[tuple[str, bytes], ...] = ()
    signed: bool = False  # a Stripe webhook: sign the body, so it reaches the handler
    query: str = ""
    operator: bool = False  # sent with the scene's operator token instead of the account's

    def __repr__(self) -> str:
        body = self.body if self.body is None or len(self.body) <= 300 else (
            self.body[:200] + b"..." + self.body[-40:])
        size = "" if self.body is None else f", {len(self.body)} bytes"
        query = self.query if len(self.query) <= 300 else self.query[:300] + "..."
        return (f"Call({self.method} {self.path}?{query} lane={self.lane} "
                f"headers={self.headers!r} body={body!r}{size})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a falsifying example with this, not field by field (bodies reach
        # hundreds of kilobytes).
        printer.text(repr(self))


def stripe_signature(payload: bytes) -> str:
    # The official library checks the timestamp against the wall clock (5 min tolerance).
    stamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), b"%d.%s" % (stamp, payload),
                      hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def send(scene: Scene, call: Call) -> Any:
    headers: dict[str, str | bytes] = {}
    if call.operator:
        headers.update(scene.operator_headers)
    elif not call.path.startswith("/"):
        headers.update(scene.account.headers)
    if call.body is not None:
        headers["content-type"] = "application/json"
    if call.signed:
        headers["stripe-signature"] = stripe_signature(call.body or b"")
    headers.update(call.headers)
    url = call.path if call.path.startswith("/") else scene.account.url(call.path)
    if call.query:
        url += "?" + call.query
    # Bytes, Latin-1 as on the wire: how a client sends a header that is not ASCII.
    raw = {name.encode(): value if isinstance(value, bytes) else value.encode("latin-1")
           for name, value in headers.items()}
    return scene.clients[call.lane].request(call.method, url, content=call.body, headers=raw)


# --- the checks ---------------------------------------------------------------------------

def _select_all(table: Table) -> str:
    order = list(table.primary_key.columns) or list(table.columns)
    return (f'SELECT * FROM "{table.name}" ORDER BY '
            + ", ".join(f'"{column.name}"' for column in order))


# Run on the driver's cursor: the snapshot runs twice per request, and SQLAlchemy's
# per-statement work cost five times the query.
SNAPSHOT_SQL = {table.name: _select_all(table) for table in metadata.sorted_tables}


def snapshot(runtime: Runtime) -> Rows:
    """Every row of every table."""
    with runtime.db.read() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return {name: [tuple(row) for row in cursor.execute(sql).fetchall()]
                    for name, sql in SNAPSHOT_SQL.items()}
        finally:
            cursor.close()


def check_envelope(response: Any, binary_ok: bool) -> None:
    status = response.status_code
    if binary_ok and status < 300 and not response.headers.get(
            "content-type", "").startswith("application/json"):
        assert response.content, "an empty export or PDF"
        return
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and ENVELOPE_KEYS <= body.keys() <= {
        *ENVELOPE_KEYS, "result_info"}, body
    assert body["messages"] == []
    if status < 400:
        assert body["success"] is True and body["errors"] == [], body
        return
    assert body["success"] is False and body["result"] is None, body
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert isinstance(error["message"], str) and error["message"], body
    assert (error["code"], status) in REGISTRY, f"code {error['code']} undocumented for {status}"
    assert error.keys() <= {"code", "message", "source"}, body
    if "source" in error:
        assert error["source"]["pointer"].startswith("/"), body
    assert response.headers["x-should-retry"] in ("true", "false")


def check(scene: Scene, call: Call, binary_ok: bool = False) -> None:
    before = scene.rows if scene.rows is not None else snapshot(scene.runtime)
    scene.rows = None  # should this request fail the test, the next one takes its own
    response = send(scene, call)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:600]}"
    check_envelope(response, binary_ok)
    after = snapshot(scene.runtime)
    if response.status_code >= 400 or call.method == "GET":
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"{response.status_code} {response.text[:300]} changed {changed}"
    balance_microcents(scene.runtime, scene.account.id)  # asserts it equals the ledger's sum
    scene.rows = after


def fuzz(scene: Scene, requests: st.SearchStrategy[Call], explicit: list[Call],
         binary_ok: bool = False) -> None:
    """The explicit requests, then a random search (a fifth as long on PostgreSQL)."""
    budget = EXAMPLES if scene.db_name == "sqlite" else max(EXAMPLES // 5, 5)

    def run(call: Call) -> None:
        check(scene, call, binary_ok)

    test = given(call=requests)(run)
    for call in explicit:
        test = example(call=call)(test)
    settings(max_examples=budget, deadline=None, derandomize=True, database=None,
             print_blob=False, report_multiple_bugs=False,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.large_base_example,
                                    HealthCheck.filter_too_much])(test)()


# --- routes with a JSON body --------------------------------------------------------------

Examples = Callable[[Scene], list[Any]]


NO_HEADERS: st.SearchStrategy[tuple[tuple[str, bytes], ...]] = st.just(())


@dataclass(frozen=True)
class BodyRoute:
    name: str
    method: str
    path: str  # {hold} is the scene's hold (or a hostile id)
    examples: Examples
    lanes: tuple[str, ...] = ("fast",)
    headers: st.SearchStrategy[tuple[tuple[str, bytes], ...]] = NO_HEADERS
    signed: bool = False
    # Every field in turn before the random search (off where another route runs the same
    # checks on the same fields).
    field_by_field: bool = True
    operator: bool = False  # an operator-only route: sent with the operator token


def _usage(_: Scene) -> list[Any]:
    return [{"events": [
        {"id": "ev-fuzz-1", "timestamp": START - 60_000, "gateway_id": "gw-1",
         "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
         "metadata": {"user": "u-1", "tags": ["a", "b"], "n": 1}},
        {"id": "ev-fuzz-2", "cost": 12.5}]}]


def _webhook(s: Scene) -> list[Any]:
    return [{"id": "evt_fuzz_1", "object": "event", "type": "payment_intent.succeeded",
             "data": {"object": {"id": "pi_fuzz", "metadata": {
                 "invoice_id": s.topup_id, "account_id": s.account.id}}}},
            {"id": "evt_fuzz_2", "type": "setup_intent.succeeded", "data": {"object": {
                "payment_method": "pm_card_mastercard",
                "metadata": {"account_id": s.account.id}}}}]


IDEMPOTENCY_HEADERS = st.one_of(
    st.just(()),
    # Bytes: a header is Latin-1 on the wire, which is what a client can send.
    st.sampled_from([b"fuzz-key-1", b"", b" ", b"k" * 255, b"k" * 256, b"cl\xe9", b"\x7f",
                     b"a\tb", b"\xff" * 300])
    .map(lambda key: (("idempotency-key", key),)))
BODY_ROUTES = [
    BodyRoute("usage-events", "POST", f"{BILLING}/usage-events", _usage),
    BodyRoute("authorizations", "POST", f"{BILLING}/authorizations", lambda _: [
        {"id": "h-new", "amount": 250, "ttl": 60},
        {"id": "h-priced", "provider": "openai", "model": "gpt-4o", "max_input_tokens": 1000,
         "max_output_tokens": 500}], lanes=("fast", "framework")),
    BodyRoute("capture", "POST", f"{BILLING}/authorizations/{{hold}}/capture", lambda _: [
        {"cost": 75}, {"input_tokens": 100, "output_tokens": 50}],
        lanes=("fast", "framework")),
    BodyRoute("void", "POST", f"{BILLING}/authorizations/{{hold}}/void", lambda _: [{}],
              lanes=("fast", "framework")),
    BodyRoute("spending-limit", "POST", f"{BILLING}/spending-limit", lambda _: [
        {"amount": 50_000, "duration": "daily", "strategy": "sliding"},
        {"amount": 100, "duration": "monthly", "strategy": "fixed"}]),
    BodyRoute("topup", "POST", f"{BILLING}/topup", lambda _: [
        {"amount": 2000, "payment_method_id": "pm_card_visa", "idempotency_key": "fuzz-key-1"},
        {"amount": 100_000}], headers=IDEMPOTENCY_HEADERS),
    BodyRoute("topup-status", "POST", f"{BILLING}/topup/status",
              lambda s: [{"payment_intent_id": s.topup_id}]),
    BodyRoute("topup-config", "POST", f"{BILLING}/topup/config", lambda _: [
        {"amount": 2000, "threshold": 1000}, {"amount": 100_000, "threshold": 100_000}]),
    BodyRoute("payment-method", "POST", "billing/profile/payment-method", lambda _: [
        {"payment_method": "pm_card_mastercard"}, {}]),
    # The scene has a profile, so a valid create updates it (200) after the same
    # read_profile checks that PUT runs field by field.
    BodyRoute("profile-create", "POST", "billing/profile", lambda _: [PROFILE],
              field_by_field=False),
    BodyRoute("profile-update", "PUT", "billing/profile", lambda _: [PROFILE]),
    BodyRoute("profile-email", "PATCH", "billing/profile", lambda _: [
        {"billing_email": "ap@engines.example", "secondary_billing_email": "x@y.example",
         "preferred_locale": "en-GB"}]),
    BodyRoute("stripe-webhook", "POST", "/webhooks/stripe", _webhook, signed=True),
    BodyRoute("account-create", "POST", "/client/v4/accounts", lambda _: [
        {"name": "Fuzz Co"}, {"name": "Fuzz Co", "type": "standard", "standalone": True}],
        operator=True),
    BodyRoute("account-update", "PUT", "/client/v4/accounts/{account}", lambda s: [
        {"id": s.account.id, "name": "Renamed", "type": "standard"}], operator=True),
    BodyRoute("token-create", "POST", "tokens", lambda s: [
        {"name": "fuzz", "policies": [{"effect": "allow", "permission_groups": [
            {"id": GROUP_IDS["AI Gateway Read"]}],
            "resources": {f"com.cloudflare.api.account.{s.account.id}": "*"}}]}]),
    BodyRoute("credit-grant", "POST", f"{BILLING}/credits", lambda _: [
        {"amount": 100, "id": "fuzz-grant", "description": "fuzz"}], operator=True),
    BodyRoute("operator-webhook", "POST", "/client/v4/billing/webhooks", lambda _: [
        {"url": "https://hooks.example/fuzz", "events": ["balance.low"]}], operator=True),
]

# Path segments: the real one most of the time, else hostile text (percent-encoded).
SEGMENTS = st.one_of(CONTROL_TEXT, URL_TEXT, NAN_LIKE, INTEGERS.map(str)).filter(bool)
SEGMENT_VALUES = ["\x00", "a" * 129, "\u2028", "-1", str(2**64)]


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _segment(real: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(real), st.just(real), st.just(real), SEGMENTS.map(_quoted))


def _storage_only(scene: Scene) -> bool:
    # Parsing is the same on both databases; what a value does to storage is not.
    return scene.db_name != "sqlite"


@st.composite
def body_calls(draw: st.DrawFn, route: BodyRoute, scene: Scene) -> Call:
    body = draw(st.one_of(*(bodies(example) for example in route.examples(scene))))
    hold = draw(_segment(scene.hold_id)) if "{hold}" in route.path else ""
    path = route.path.replace("{hold}", hold).replace("{account}", scene.account.id)
    return Call(route.method, path, body, draw(st.sampled_from(route.lanes)),
                draw(route.headers), route.signed, operator=route.operator)


def explicit_body_calls(route: BodyRoute, scene: Scene) -> list[Call]:
    if not route.field_by_field:
        return []
    path = route.path.replace("{hold}", scene.hold_id).replace("{account}", scene.account.id)
    calls = [Call(route.method, path, body, route.lanes[-1], signed=route.signed,
                  operator=route.operator)
             for example in route.examples(scene)
             for body in field_by_field(example, storage_only=_storage_only(scene))]
    if "{hold}" in route.path:
        body = encode(route.examples(scene)[0])
        calls += [Call(route.method, route.path.replace("{hold}", _quoted(text)), body)
                  for text in SEGMENT_VALUES]
    return calls


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda route: route.name)
def test_route_bodies_never_fault_and_refusals_change_nothing(scene: Scene,
                                                              route: BodyRoute) -> None:
    fuzz(scene, body_calls(route, scene), explicit_body_calls(route, scene))


# --- GET routes: query and path parameters ------------------------------------------------

@dataclass(frozen=True)
class QueryRoute:
    name: str
    path: str  # {hold} and {invoice} are the scene's (or hostile)
    # Valid values of each parameter; the first of each makes the valid request.
    params: Callable[[Scene], dict[str, list[str]]] = field(default=lambda _: {})
    binary_ok: bool = False

    def at(self, scene: Scene, hold: str | None = None, invoice: str | None = None) -> str:
        return self.path.replace("{hold}", hold or scene.hold_id).replace(
            "{invoice}", invoice or scene.topup_id)


def _signed_link(s: Scene) -> dict[str, list[str]]:
    link = pdf_url(s.runtime, s.topup_id, s.runtime.clock.now_ms() // 1000)
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    return {name: [value] for name, value in query.items()}


DAYS = ["2026-11-01", "2026-11-15", "2026-11-15T00:00:00Z"]
QUERY_ROUTES = [
    QueryRoute("usage-history", f"{BILLING}/usage-history", lambda _: {
        "value_grouping_window": ["hour", "day"],
        "start_time": [str(START - 5 * HOUR_MS), f"{START - 5 * HOUR_MS}.5", "0"],
        "end_time": [str(START), f"{START}.25"], "page": ["1", "2"]}),
    QueryRoute("invoice-history", f"{BILLING}/invoice-history", lambda _: {
        "type": ["all", "auto", "manual"], "page": ["1", "2"], "per_page": ["20", "100"]}),
    QueryRoute("paygo-usage", "paygo-usage", lambda _: {"from": DAYS, "to": DAYS}),
    QueryRoute("billable-usage", "billable-usage", lambda _: {"from": DAYS, "to": DAYS}),
    QueryRoute("billable-focus", "billable/usage", lambda _: {
        "from": DAYS, "to": DAYS, "metric": ["openai/gpt-4o"], "metric_id": ["openai:gpt-4o"],
        "format": ["json", "csv", "parquet"]}, binary_ok=True),
    QueryRoute("signed-invoice-pdf", "/client/v4/invoices/{invoice}/pdf", _signed_link,
               binary_ok=True),
    QueryRoute("account-invoice-pdf", f"{BILLING}/invoices/{{invoice}}/pdf", binary_ok=True),
    QueryRoute("authorization", f"{BILLING}/authorizations/{{hold}}"),
    QueryRoute("transactions", f"{BILLING}/transactions", lambda _: {
        "kind": ["usage", "grant,topup"], "start_time": [str(START - HOUR_MS), "0"],
        "end_time": [str(START + HOUR_MS)], "per_page": ["2", "100"],
        "cursor": ["bGUxOjk5OTk"]}),  # "le1:9999"
    QueryRoute("accounts", "/client/v4/accounts", lambda _: {
        "name": ["test", "%"], "page": ["1", "2"], "per_page": ["20", "100"],
        "direction": ["asc", "desc"]}),
    QueryRoute("tokens", "tokens", lambda _: {
        "page": ["1", "2"], "per_page": ["20", "100"], "direction": ["asc", "desc"]}),
]


def _encoded(pairs: list[tuple[str, str]]) -> str:
    return urlencode([(name, value.encode("utf-8", "surrogatepass")) for name, value in pairs])


@st.composite
def query_strings(draw: st.DrawFn, valid: dict[str, list[str]]) -> str:
    """The valid parameters with one (or two) of them hostile, dropped, repeated or added."""
    pairs = [(name, draw(st.sampled_from(values))) for name, values in valid.items()]
    for _ in range(draw(st.integers(1, 2))):
        names = [name for name, _ in pairs] or ["page"]
        name = draw(st.sampled_from([*names, "unknown"]))
        kind = draw(st.sampled_from(["replace", "replace", "replace", "drop", "repeat"]))
        if kind != "replace" or name == "unknown":
            pairs = [p for p in pairs if p[0] != name or kind == "repeat"]
        if kind != "drop":
            pairs.append((name, draw(query_texts())))
    return _encoded(pairs)


@st.composite
def query_calls(draw: st.DrawFn, route: QueryRoute, scene: Scene) -> Call:
    query = draw(st.one_of(st.just(""), query_strings(route.params(scene))))
    path = route.at(scene, draw(_segment(scene.hold_id)), draw(_segment(scene.topup_id)))
    return Call("GET", path, query=query)


def explicit_query_calls(route: QueryRoute, scene: Scene) -> list[Call]:
    valid = {name: values[0] for name, values in route.params(scene).items()}
    calls = [Call("GET", route.at(scene), query=_encoded(
                 [*((n, v) for n, v in valid.items() if n != name), (name, value)]))
             for name in valid for value in QUERY_VALUES]
    for text in SEGMENT_VALUES if "{" in route.path else []:
        calls.append(Call("GET", route.at(scene, _quoted(text), _quoted(text)),
                          query=_encoded(list(valid.items()))))
    return calls


@pytest.mark.parametrize("route", QUERY_ROUTES, ids=lambda route: route.name)
def test_query_parameters_never_fault_and_reads_change_nothing(scene: Scene,
                                                               route: QueryRoute) -> None:
    fuzz(scene, query_calls(route, scene), explicit_query_calls(route, scene),
         binary_ok=route.binary_ok)
