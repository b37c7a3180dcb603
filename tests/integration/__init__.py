"""Integration tests: the app, a real migrated database, full launches and syncs on loopback."""
