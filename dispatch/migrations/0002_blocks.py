# Scheduled blocks: check-in time for no-shows and completion, status checks, block events.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="blockreservation",
            name="checked_in_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="dispatchevent",
            name="entity",
            field=models.CharField(
                choices=[
                    ("trip", "Trip"),
                    ("offer", "Offer"),
                    ("reservation", "Reservation"),
                    ("block", "Block"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="blockreservation",
            index=models.Index(fields=["driver", "status"], name="block_reservation_driver"),
        ),
        migrations.AddConstraint(
            model_name="block",
            constraint=models.CheckConstraint(
                condition=models.Q(("opens_at__lt", models.F("starts_at"))),
                name="block_opens_before_start",
            ),
        ),
        migrations.AddConstraint(
            model_name="block",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["scheduled", "open", "cancelled"])),
                name="block_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="blockreservation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["requested", "reserved", "lost", "released", "forfeited", "completed"],
                    )
                ),
                name="block_reservation_status_valid",
            ),
        ),
    ]
