"""The dispatch pages of the driver portal (/driver/work/): work.py (online, offers, history)
and trip.py (the trip screen and its steps). present.py formats; common.py is shared."""
