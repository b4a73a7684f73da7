"""views of the drivers app."""
