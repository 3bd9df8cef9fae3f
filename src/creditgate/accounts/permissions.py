"""Permission groups, as Cloudflare names them."""

from __future__ import annotations

AI_GATEWAY_READ = "AI Gateway Read"
AI_GATEWAY_WRITE = "AI Gateway Write"
BILLING_READ = "Billing Read"
BILLING_WRITE = "Billing Write"

ALL_GROUPS: tuple[str, ...] = (AI_GATEWAY_READ, AI_GATEWAY_WRITE, BILLING_READ, BILLING_WRITE)

# A write permission implies the read permission of the same product.
_SATISFIES = {
    AI_GATEWAY_READ: {AI_GATEWAY_READ, AI_GATEWAY_WRITE},
    AI_GATEWAY_WRITE: {AI_GATEWAY_WRITE},
    BILLING_READ: {BILLING_READ, BILLING_WRITE},
    BILLING_WRITE: {BILLING_WRITE},
}


def grants(held: frozenset[str], needed: str) -> bool:
    return bool(held & _SATISFIES[needed])


def parse_groups(values: list[str]) -> list[str]:
    """Accept group names case-insensitively; raise ValueError naming the valid ones."""
    by_lower = {g.lower(): g for g in ALL_GROUPS}
    chosen: list[str] = []
    for value in values:
        group = by_lower.get(value.strip().lower())
        if group is None:
            raise ValueError(f"unknown permission group {value!r}; choose from: "
                             + ", ".join(ALL_GROUPS))
        if group not in chosen:
            chosen.append(group)
    return chosen


# Stable ids of the groups, as `GET /accounts/{id}/tokens/permission_groups` answers them and
# token policies name them (uuid5 of the name: fixed forever, never re-derived at run time).
GROUP_IDS: dict[str, str] = {
    AI_GATEWAY_READ: "e775445ffeb55a18b73443d1c247696d",
    AI_GATEWAY_WRITE: "f7d274a1cd435901abfbfe7cdb256db3",
    BILLING_READ: "ffa1e438ee1e53e89ea55df09bbc9b70",
    BILLING_WRITE: "fc636a01ba195816a0c240c98c7a1cd2",
}
GROUPS_BY_ID: dict[str, str] = {group_id: name for name, group_id in GROUP_IDS.items()}
GROUP_CATEGORIES: dict[str, str] = {
    AI_GATEWAY_READ: "ai_and_machine_learning", AI_GATEWAY_WRITE: "ai_and_machine_learning",
    BILLING_READ: "account_and_billing", BILLING_WRITE: "account_and_billing",
}


def covers(held: frozenset[str], wanted: list[str]) -> bool:
    """Whether a token holding `held` may hand out every group of `wanted` (no escalation:
    a write group covers its read group, never the other way round)."""
    return all(grants(held, group) for group in wanted)
