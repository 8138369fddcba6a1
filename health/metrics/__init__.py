"""Prometheus metrics: instruments updated as things happen, collectors
read at scrape time, and the exposition that serves both."""
