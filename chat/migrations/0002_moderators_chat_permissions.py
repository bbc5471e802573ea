import importlib

from django.db import migrations

# The same function channels_app's migration runs, now that chat's permissions exist.
moderators_group = importlib.import_module("channels_app.migrations.0002_moderators_group")


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial"), ("channels_app", "0002_moderators_group")]
    operations = [migrations.RunPython(moderators_group.create_moderators, migrations.RunPython.noop)]
