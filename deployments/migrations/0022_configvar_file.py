from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deployments", "0021_host_heartbeats")]

    operations = [
        migrations.AddField(
            model_name="configvar",
            name="file",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
    ]
