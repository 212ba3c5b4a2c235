from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="kind",
            field=models.CharField(
                choices=[
                    ("general", "General"),
                    ("maintenance", "Maintenance"),
                    ("suspension", "Suspension of the service"),
                    ("end_of_service", "End of the service"),
                ],
                default="general",
                max_length=16,
                verbose_name="kind",
            ),
        ),
        migrations.AddField(
            model_name="notice",
            name="effective_from",
            field=models.DateTimeField(blank=True, null=True, verbose_name="effective from"),
        ),
        migrations.AddField(
            model_name="notice",
            name="effective_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="effective until"),
        ),
    ]
