"""The background worker: a durable job outbox, claimed by one worker at a time."""
