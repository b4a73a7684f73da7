"""Models of the dispatch app (see DESIGN.md)."""
