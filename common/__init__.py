"""Shared base of every course module: settings, app factory, errors, i18n, db, auth, events, Janus."""
