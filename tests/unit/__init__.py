"""Unit tests: the domain in-process, without Slack or HTTP."""
