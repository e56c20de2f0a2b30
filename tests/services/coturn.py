"""Fixture plugin for coturn (filled in by its module's work)."""
