"""tasks of the dispatch app."""
