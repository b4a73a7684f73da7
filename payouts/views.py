"""views of the payouts app."""
