"""Models of the drivers app (see DESIGN.md)."""
