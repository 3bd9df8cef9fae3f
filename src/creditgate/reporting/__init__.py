"""Account billing: billing profile, PayGo usage, FOCUS billable usage and exports."""
