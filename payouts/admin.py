"""admin of the payouts app."""
