"""Benchmarks of contacts-server against raw-SQL and PostGraphile baselines (see README.md)."""
