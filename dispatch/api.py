"""api of the dispatch app."""
