"""Fixture plugin for mariadb (filled in by its module's work)."""
