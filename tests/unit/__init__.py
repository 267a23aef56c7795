"""Module tests: one package per code package (tests/unit/bot/…, handlers/…, jobs/…)."""
