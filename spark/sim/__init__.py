"""The city-day simulator: the real services in simulated time (`manage.py simulate`)."""
