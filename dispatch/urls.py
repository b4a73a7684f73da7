"""urls of the dispatch app."""

urlpatterns: list = []
