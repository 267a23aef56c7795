"""Scheduled jobs (APScheduler); thin wrappers around `bot/`."""
