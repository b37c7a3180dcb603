"""Unit tests: no network; database tests use the `db_session` fixture."""
