"""The dispatch app's only public read API."""
