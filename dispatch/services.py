"""The dispatch app's only public write API."""
