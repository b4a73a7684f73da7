"""tasks of the payouts app."""
