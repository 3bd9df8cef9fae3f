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
