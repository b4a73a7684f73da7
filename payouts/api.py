"""api of the payouts app."""
