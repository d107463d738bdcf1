from django.db import migrations, models

# Issue 15 (sandbox): a worker's heartbeat row says whether it sandboxes uploaded scripts,
# for the admin dashboard's "scripts are not sandboxed". Depends on 0005 (Job.network) and
# 0006 (the heartbeat rows).


class Migration(migrations.Migration):
    dependencies = [
        ("scripts_app", "0005_code_jobs_and_network"),
        ("scripts_app", "0006_process_heartbeats"),
    ]

    operations = [
        migrations.AddField(
            model_name="processheartbeat",
            name="sandboxed",
            field=models.BooleanField(blank=True, null=True),
        ),
    ]
