"""The thin shared kernel: envelope, errors, auth, settings, database, clock, money, ids."""
