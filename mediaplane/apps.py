from django.apps import AppConfig


class MediaplaneConfig(AppConfig):
    name = "mediaplane"
    verbose_name = "Local media plane"
