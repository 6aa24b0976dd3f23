"""Errors, events, paths and logging: what every other package may use."""
