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
    ("chat", "moderate_chat"),
    ("chat", "view_chatroom"),
    ("chat", "change_chatroom"),
    ("chat", "view_message"),
    ("chat", "view_chatban"),
    ("chat", "view_moderationaction"),
    ("chat", "view_chatmoderator"),
]


def ensure_moderators_group(group_model, permission_model):
    """Create the group, or bring its permissions back to this list. Takes the model
    classes so a migration can pass its historical ones. Permissions of apps not
    migrated yet are skipped; their app's migration calls this again."""
    group, _ = group_model.objects.get_or_create(name=MODERATORS)
    wanted = [
        permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
        for app_label, codename in MODERATOR_PERMISSIONS
    ]
    group.permissions.set([p for p in wanted if p is not None])
    return group
