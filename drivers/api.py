"""api of the drivers app."""
