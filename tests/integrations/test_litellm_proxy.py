"""The LiteLLM proxy with the creditgate plugin, called by the official openai client: every
call held before the model, captured or voided after, refusals as OpenAI errors."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from tests.integrations.conftest import Stack
from tests.integrations.ledger import balance_microcents, holds, settled, usage_events

pytestmark = pytest.mark.e2e

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]
# gpt-4o at $2.50 / $10 per million tokens: LiteLLM counts 9 prompt tokens for HELLO, so a
# 1000-token maximum holds 0.00225 + 1 = 1.00225 ¢ (1,002,250 µ¢).
ESTIMATE_MICROCENTS = 1_002_250
# The upstream reports 2 prompt tokens (words) and 8 completion tokens: 0.0085 ¢.
CAPTURED_MICROCENTS = 8_500


def test_exactly_n_of_4n_concurrent_calls_succeed_and_the_ledger_is_exact(stack: Stack) -> None:
    n = 4
    grant_cents = 5  # covers 4 maximum estimates (4.009 ¢), not 5 (5.011 ¢)
    account = stack.account(grant_cents)
    client = stack.aopenai(f"key.{account}")

    async def one() -> int:
        try:
            await client.chat.completions.create(model="gpt-4o-slow", messages=HELLO,
                                                 max_tokens=1000)
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    async def all_of_them() -> list[int]:
        return await asyncio.gather(*(one() for _ in range(4 * n)))

    statuses = asyncio.run(all_of_them())
    assert sorted(statuses) == [200] * n + [402] * (3 * n)
    found = settled(stack.db, account, n)
    assert [(status, amount, captured) for _, status, amount, captured in found] == \
        [("captured", ESTIMATE_MICROCENTS, CAPTURED_MICROCENTS)] * n
    assert balance_microcents(stack.db, account) == grant_cents * 1_000_000 - n * 8_500
    assert sorted(event[1:] for event in usage_events(stack.db, account)) == \
        [(2, 8, CAPTURED_MICROCENTS)] * n


def test_a_refusal_for_credit_is_a_402_a_person_can_act_on(stack: Stack) -> None:
    account = stack.account()  # no credit at all
    with pytest.raises(openai.APIStatusError) as refused:
        stack.openai(f"key.{account}").chat.completions.create(
            model="gpt-4o", messages=HELLO, max_tokens=10)
    assert refused.value.status_code == 402
    assert "Not enough prepaid credit" in refused.value.message
    assert holds(stack.db, account) == []


def test_a_streamed_call_is_captured_with_the_streamed_usage(stack: Stack) -> None:
    account = stack.account(1000)
    client = stack.openai(f"key.{account}")
    raw = client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
        model="gpt-4o", messages=HELLO, max_tokens=1000, stream=True,
        stream_options={"include_usage": True})
    call_id = raw.headers["x-litellm-call-id"]
    chunks: list[ChatCompletionChunk] = list(raw.parse())  # type: ignore[call-overload]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    assert settled(stack.db, account, 1) == [(call_id, "captured", ESTIMATE_MICROCENTS,
                                              CAPTURED_MICROCENTS)]
    assert usage_events(stack.db, account) == [(call_id, 2, 8, CAPTURED_MICROCENTS)]


def test_a_stream_that_did_not_ask_for_usage_gets_none_and_is_still_captured(
        stack: Stack) -> None:
    account = stack.account(1000)
    stream = stack.openai(f"key.{account}").chat.completions.create(
        model="gpt-4o", messages=HELLO, max_tokens=1000, stream=True)
    chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks) and all(chunk.choices
                                                                for chunk in chunks)
    assert [row[1:] for row in settled(stack.db, account, 1)] == [
        ("captured", ESTIMATE_MICROCENTS, CAPTURED_MICROCENTS)]


def test_an_upstream_500_is_voided_and_nothing_is_charged(stack: Stack) -> None:
    account = stack.account(1000)
    with pytest.raises(openai.InternalServerError):
        stack.openai(f"key.{account}").chat.completions.create(
            model="broken", messages=HELLO, max_tokens=1000)
    assert [row[1:] for row in settled(stack.db, account, 1)] == [
        ("voided", ESTIMATE_MICROCENTS, None)]
    assert balance_microcents(stack.db, account) == 1000 * 1_000_000
    assert usage_events(stack.db, account) == []


def test_a_client_that_hangs_up_mid_stream_leaves_no_active_hold(stack: Stack) -> None:
    account = stack.account(1000)
    with httpx.stream("POST", f"{stack.proxy.url}/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer key.{account}"},
                      json={"model": "drip", "messages": HELLO, "max_tokens": 1000,
                            "stream": True}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]  # a few tokens of 50, then hang up
    assert any("tok" in line for line in received)
    found = settled(stack.db, account, 1, timeout=30)
    assert [status for _, status, _, _ in found] in (["captured"], ["voided"])
    captured = found[0][3] or 0
    # What was delivered (a few tokens) at most, never the 50 the upstream would have sent.
    assert captured < 50 * 1_000 + 10 * 250


def test_a_spending_limit_is_a_429_with_retry_after(stack: Stack) -> None:
    account = stack.account(1000)
    sdk = stack.server.sdk(stack.operator_token)
    sdk.ai_gateway.billing.spending_limit.create(account_id=account, amount=100,
                                                 duration="daily", strategy="fixed")
    base = f"{stack.server.base_url}/accounts/{account}/ai-gateway/billing"
    spent = httpx.post(f"{base}/usage-events", json={"events": [{"id": "spent", "cost": 99.5}]},
                       headers={"Authorization": f"Bearer {stack.operator_token}"})
    assert spent.status_code == 200, spent.text
    with pytest.raises(openai.RateLimitError) as refused:
        stack.openai(f"key.{account}").chat.completions.create(
            model="gpt-4o", messages=HELLO, max_tokens=1000)
    assert refused.value.status_code == 429
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert "spending limit" in refused.value.message
    assert holds(stack.db, account) == []


def test_the_account_comes_from_key_then_team_then_user_metadata(stack: Stack) -> None:
    a, b, c = stack.account(1000), stack.account(1000), stack.account(1000)
    cases = {f"key.{a}": a, f"team.{b}": b, f"user.{c}": c, f"all.{a}.{b}.{c}": a,
             f"all.-.{b}.{c}": b, f"all.-.-.{c}": c}
    for key, account in cases.items():
        before = len(holds(stack.db, account))
        stack.openai(key).chat.completions.create(model="gpt-4o", messages=HELLO,
                                                  max_tokens=10)
        assert len(settled(stack.db, account, before + 1)) == before + 1, key


def test_a_caller_cannot_choose_the_paying_account(stack: Stack) -> None:
    mine, victim = stack.account(1000), stack.account(1000)
    stack.openai(f"key.{mine}").chat.completions.create(
        model="gpt-4o", messages=HELLO, max_tokens=10,
        extra_headers={"x-creditgate-account-id": victim, "creditgate_account_id": victim},
        extra_body={"metadata": {"creditgate_account_id": victim},
                    "creditgate_account_id": victim})
    assert len(settled(stack.db, mine, 1)) == 1
    assert holds(stack.db, victim) == []


def test_a_key_with_no_account_and_no_default_is_refused_with_403(stack: Stack) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        stack.openai("none").chat.completions.create(
            model="gpt-4o", messages=HELLO, max_tokens=10,
            extra_body={"metadata": {"creditgate_account_id": stack.server.account_id}})
    assert "creditgate_account_id" in refused.value.message
    assert holds(stack.db, stack.server.account_id) == []


def test_a_model_unknown_to_the_catalog_is_priced_by_litellm(stack: Stack) -> None:
    account = stack.account(1000)
    stack.openai(f"key.{account}").chat.completions.create(
        model="house", messages=HELLO, max_tokens=1000)
    # The config's price: $1 / $3 per million tokens. Held: 9 + 1000 tokens at the maximum
    # (0.0009 + 0.3 ¢); captured: 2 + 8 tokens (0.0002 + 0.0024 ¢).
    assert [row[1:] for row in settled(stack.db, account, 1)] == [
        ("captured", 300_900, 2_600)]
