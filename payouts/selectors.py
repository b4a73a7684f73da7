"""The payouts app's only public read API."""
