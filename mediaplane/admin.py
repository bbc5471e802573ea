from django.contrib import admin

from mediaplane.models import IvsChannel, IvsStreamKey, IvsStreamSession


@admin.register(IvsChannel)
class IvsChannelAdmin(admin.ModelAdmin):
    list_display = ("resource_id", "name", "latency_mode", "type", "created_at")
    search_fields = ("resource_id", "name", "arn")
    readonly_fields = ("resource_id", "arn", "created_at")


@admin.register(IvsStreamKey)
class IvsStreamKeyAdmin(admin.ModelAdmin):
    # The key's value is a secret: neither listed nor shown.
    list_display = ("arn", "channel", "created_at")
    exclude = ("value", "value_digest")
    readonly_fields = ("resource_id", "arn", "channel", "tags", "created_at")
    list_select_related = ("channel",)

    def has_add_permission(self, request):
        return False


@admin.register(IvsStreamSession)
class IvsStreamSessionAdmin(admin.ModelAdmin):
    list_display = ("stream_id", "channel", "start_time", "end_time", "health")
    list_select_related = ("channel",)
    readonly_fields = (
        "stream_id",
        "channel",
        "start_time",
        "end_time",
        "health",
        "ingest_configuration",
        "rtmp_client_id",
        "rtmp_app",
        "publisher_address",
    )
