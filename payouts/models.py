"""Models of the payouts app (see DESIGN.md)."""
