"""Usage events, LLM pricing, rollups and usage history."""
