"""urls of the drivers app."""

urlpatterns: list = []
