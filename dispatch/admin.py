"""admin of the dispatch app."""
