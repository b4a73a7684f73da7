"""The payouts app's only public write API."""
