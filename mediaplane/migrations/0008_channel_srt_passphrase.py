from django.db import migrations, models

import mediaplane.models.ingest


def give_each_channel_its_own(apps, schema_editor):
    # AddField fills existing rows with one default for all: each channel needs its own.
    channel_model = apps.get_model("mediaplane", "IvsChannel")
    for channel in channel_model.objects.only("pk"):
        channel.srt_passphrase = mediaplane.models.ingest.new_srt_passphrase()
        channel.save(update_fields=["srt_passphrase"])


class Migration(migrations.Migration):
    dependencies = [("mediaplane", "0007_session_identity")]

    operations = [
        migrations.AddField(
            model_name="ivschannel",
            name="srt_passphrase",
            field=models.CharField(default=mediaplane.models.ingest.new_srt_passphrase, max_length=79),
        ),
        migrations.RunPython(give_each_channel_its_own, migrations.RunPython.noop),
    ]
