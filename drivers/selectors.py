"""The drivers app's only public read API."""
