"""admin of the drivers app."""
