"""The Moderators group: exactly the permissions a site moderator needs."""

MODERATORS = "Moderators"
MODERATOR_PERMISSIONS = [
    ("auth", "view_user"),
    ("channels_app", "view_channel"),
    ("channels_app", "stop_stream"),
    ("channels_app", "disable_channel"),
    ("channels_app", "reset_stream_key"),
    ("channels_app", "view_streamsession"),
    ("channels_app", "view_healthsample"),
    ("channels_app", "view_streamevent"),
]


def ensure_moderators_group(group_model, permission_model):
    """Create the group, or bring its permissions back to this list. Takes the model
    classes so a migration can pass its historical ones."""
    group, _ = group_model.objects.get_or_create(name=MODERATORS)
    group.permissions.set(
        [
            permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in MODERATOR_PERMISSIONS
        ]
    )
    return group
