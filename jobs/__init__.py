"""Periodic jobs (APScheduler): the same domain services the commands call, on a timer."""
