"""Watching models: data sources, drift and performance statistics, charts, reports, schedules."""
