"""The drivers app's only public write API."""
