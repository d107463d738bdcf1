# Issue 14: per-script environments (PEP 723 / requirements, locked with uv).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scripts_app', '0002_trigger_tokens_and_seed_fields'),
    ]

    operations = [
        migrations.CreateModel(
            name='EnvironmentCopy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('lock_sha256', models.CharField(max_length=64)),
                ('cache_id', models.CharField(max_length=64)),
                ('host', models.CharField(max_length=200)),
                ('size_bytes', models.PositiveBigIntegerField(default=0)),
                ('build_seconds', models.FloatField(blank=True, null=True)),
                ('recorded_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['host'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='scriptversion',
            name='one_version_per_content',
        ),
        migrations.AddField(
            model_name='job',
            name='dependency_error',
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name='job',
            name='requirements',
            field=models.TextField(blank=True, help_text="Packages the script needs, requirements.txt syntax (one per line), for scripts that cannot carry a PEP 723 '# /// script' block. Locked when saved."),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='dependencies',
            field=models.JSONField(blank=True, default=list, help_text='As declared.'),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='lock',
            field=models.TextField(blank=True, default='', help_text='Pins and hashes (uv).'),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='lock_sha256',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='requirements_sha256',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='requires_python',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.UniqueConstraint(fields=('job', 'sha256', 'requirements_sha256'), name='one_version_per_content'),
        ),
        migrations.AddIndex(
            model_name='environmentcopy',
            index=models.Index(fields=['lock_sha256'], name='envcopy_lock_idx'),
        ),
        migrations.AddConstraint(
            model_name='environmentcopy',
            constraint=models.UniqueConstraint(fields=('cache_id', 'lock_sha256'), name='one_copy_per_cache'),
        ),
    ]
