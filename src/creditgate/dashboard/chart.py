"""The usage chart, drawn on the server as SVG bars: one bar per window of usage history.

No script and no library: the page is complete without JavaScript, and each bar carries its
window and cost as a `<title>` (a tooltip, and what a screen reader reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditgate.kernel.clock import iso_utc
from creditgate.kernel.money import cents_to_microcents

WIDTH = 720
HEIGHT = 220
LEFT = 56  # room for the axis labels
BOTTOM = 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    microcents: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak_microcents: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM
    first_label: str = ""
    last_label: str = ""


def _label(start_ms: int, window: str) -> str:
    text = iso_utc(start_ms)
    return text[:10] if window == "day" else text[:13].replace("T", " ") + ":00"


def build(history: list[dict[str, Any]], window: str) -> Chart:
    """A bar per usage-history entry (`aggregated_value` in cents), scaled to the peak."""
    costs = [cents_to_microcents(entry["aggregated_value"]) for entry in history]
    peak = max(costs, default=0)
    plot_w = WIDTH - LEFT
    plot_h = HEIGHT - BOTTOM - 8
    step = plot_w / max(len(history), 1)
    gap = min(2.0, step / 4)
    bars = []
    for i, (entry, cost) in enumerate(zip(history, costs, strict=True)):
        h = plot_h * cost / peak if peak else 0.0
        bars.append(Bar(round(LEFT + i * step + gap / 2, 2), round(HEIGHT - BOTTOM - h, 2),
                        round(step - gap, 2), round(h, 2),
                        _label(int(entry["start_time"]), window), cost))
    first = _label(int(history[0]["start_time"]), window) if history else ""
    last = _label(int(history[-1]["start_time"]), window) if history else ""
    return Chart(bars, peak, first_label=first, last_label=last)
