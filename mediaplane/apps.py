from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class MediaplaneConfig(AppConfig):
    name = "mediaplane"
    verbose_name = "Local media plane"

    def ready(self):
        from mediaplane.models import IvsChannel, PlaybackKeyPair, ViewerSessionRevocation
        from mediaplane.services import playback

        # Whatever decides who may play a channel reaches the playback-auth server at once.
        for model in (IvsChannel, PlaybackKeyPair, ViewerSessionRevocation):
            post_save.connect(playback.changed, sender=model, dispatch_uid=f"playback-{model.__name__}")
            post_delete.connect(playback.changed, sender=model, dispatch_uid=f"playback-del-{model.__name__}")
