"""tasks of the drivers app."""
