"""The staff web app: dashboard, feedback list and exports behind a login (docs/staff-app.md).

Run it with ``python -m bot.staff``. Core package: imports neither ``rasa`` nor ``rasa_sdk``.
"""
