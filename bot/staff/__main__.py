"""``python -m bot.staff``: the staff app on STAFF_HOST:STAFF_PORT (127.0.0.1:5070)."""

from bot.staff.app import main

main()
