"""The append-only credit ledger and the account balance derived from it."""
