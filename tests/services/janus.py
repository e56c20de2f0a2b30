"""Fixture plugin for janus (filled in by its module's work)."""
