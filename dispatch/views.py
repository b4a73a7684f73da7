"""views of the dispatch app."""
