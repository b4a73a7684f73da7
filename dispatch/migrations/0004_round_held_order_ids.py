from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0003_offer_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="dispatchround",
            name="held_order_ids",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Ready orders held back to batch with an order of their store being packed.",
            ),
        ),
    ]
