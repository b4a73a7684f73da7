"""Issue an API key for a merchant's shop front-end; the raw key is printed once, never stored."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders import selectors
from orders.services import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for a merchant (printed once: only its digest is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("merchant", help="the merchant's slug")
        parser.add_argument("--name", default="default", help="a label, e.g. 2026-q4")

    def handle(self, *args: object, merchant: str, name: str, **options: object) -> None:
        row = selectors.merchant_get_by_slug(slug=merchant)
        if row is None:
            raise CommandError(f"No merchant with the slug {merchant!r}.")
        key, raw = api_key_create(merchant=row, name=name[:100])
        self.stderr.write(
            f"Key {key.prefix} ({key.name}) for {row.name}. Store it now: it is not shown again."
        )
        self.stdout.write(raw)
