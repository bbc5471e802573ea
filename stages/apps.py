from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save, pre_delete

from channels_app.signals import audience_changed


class StagesConfig(AppConfig):
    name = "stages"
    verbose_name = "Stages"

    def ready(self):
        # An account closes in more than one place (accounts.services.delete_account,
        # the admin's delete and "active" box); whichever it is, the person's stage
        # tokens must stop working, so this listens to the user rows themselves.
        pre_delete.connect(_account_closing, sender=settings.AUTH_USER_MODEL, dispatch_uid="stages-account-deleted")
        post_save.connect(_account_closing, sender=settings.AUTH_USER_MODEL, dispatch_uid="stages-account-closed")
        audience_changed.connect(_channel_audience_changed, dispatch_uid="stages-channel-audience")


def _account_closing(sender, instance, **kwargs):
    if kwargs.get("signal") is pre_delete or not instance.is_active:
        from stages.services import account_closed

        account_closed(user=instance)


def _channel_audience_changed(sender, channel, **kwargs):
    from stages.services import channel_audience_narrowed

    channel_audience_narrowed(channel=channel)
