"""Alembic revision scripts, one per schema change, named `<rev>_<slug>.py`."""
