"""Alembic migrations for the patient-voice store (see bot/alembic.ini)."""
