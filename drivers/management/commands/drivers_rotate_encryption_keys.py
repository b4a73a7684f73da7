"""Re-encrypt licence numbers under the first FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), deploy,
run this command, then remove the old key.
"""

from typing import Any

from django.core.management.base import BaseCommand

from drivers import services


class Command(BaseCommand):
    help = "Re-encrypt every licence number under the current (first) field-encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        count = services.document_encryption_rotate()
        self.stdout.write(f"Re-encrypted {count} licence number(s) under the current key.")
