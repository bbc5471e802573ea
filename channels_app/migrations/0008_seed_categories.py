from django.db import migrations

CATEGORIES = [
    ("Just Chatting", "just-chatting"),
    ("Talk Shows & Podcasts", "talk-shows-podcasts"),
    ("Live Shopping", "live-shopping"),
    ("Sports & Gaming", "sports-gaming"),
    ("Conferences & Events", "conferences-events"),
]


def seed(apps, schema_editor):
    Category = apps.get_model("channels_app", "Category")
    for position, (name, slug) in enumerate(CATEGORIES):
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})


class Migration(migrations.Migration):
    dependencies = [("channels_app", "0007_category_channel_playback_access_channel_category")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
