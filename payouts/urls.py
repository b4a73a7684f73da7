"""urls of the payouts app."""

urlpatterns: list = []
