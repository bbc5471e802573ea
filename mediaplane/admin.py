from django.contrib import admin

from mediaplane.models import (
    Composition,
    CompositionDestination,
    EncoderConfiguration,
    IvsChannel,
    IvsRecordingConfiguration,
    IvsStreamKey,
    IvsStreamSession,
    Participant,
    ParticipantEvent,
    PlaybackKeyPair,
    StorageConfiguration,
    ViewerSessionRevocation,
)
from mediaplane.models import Stage as PlaneStage


@admin.register(IvsChannel)
class IvsChannelAdmin(admin.ModelAdmin):
    list_display = ("resource_id", "name", "latency_mode", "type", "created_at")
    search_fields = ("resource_id", "name", "arn")
    # Playback authorisation changes through the API (UpdateChannel), which also keeps
    # nginx's fallback list of public channels right.
    readonly_fields = ("resource_id", "arn", "authorized", "created_at")


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
        "nginx_pid",
        "nginx_started_at",
        "ingest_name",
        "publisher_address",
    )


class ParticipantEventInline(admin.TabularInline):
    model = ParticipantEvent
    extra = 0
    max_num = 0
    can_delete = False
    readonly_fields = ("event_time", "name", "remote_participant_id", "error_code", "detail")


@admin.register(PlaneStage)
class PlaneStageAdmin(admin.ModelAdmin):
    list_display = ("resource_id", "name", "room_used_at", "created_at")
    search_fields = ("resource_id", "name", "arn")
    readonly_fields = ("resource_id", "arn", "room_used_at", "created_at")
    exclude = ("room_secret",)


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("participant_id", "stage", "user_id", "state", "published", "first_join_time", "revoked_at")
    list_filter = ("state", "published")
    search_fields = ("participant_id", "user_id", "stage__resource_id")
    list_select_related = ("stage",)
    readonly_fields = [f.name for f in Participant._meta.fields]
    inlines = (ParticipantEventInline,)

    def has_add_permission(self, request):
        return False


class CompositionDestinationInline(admin.TabularInline):
    model = CompositionDestination
    extra = 0
    can_delete = False
    max_num = 0
    readonly_fields = ("destination_id", "state", "channel_arn", "storage", "encoder", "recording_prefix", "start_time")
    fields = readonly_fields


@admin.register(Composition)
class CompositionAdmin(admin.ModelAdmin):
    """Read-only: compositions change through the ivs-realtime API; here a moderator
    sees their state and, for a FAILED one, why."""

    list_display = ("resource_id", "stage", "state", "restarts", "start_time", "end_time", "failure_reason")
    list_filter = ("state",)
    search_fields = ("resource_id", "arn", "stage__name")
    list_select_related = ("stage",)
    inlines = (CompositionDestinationInline,)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EncoderConfiguration, StorageConfiguration, IvsRecordingConfiguration, PlaybackKeyPair)
class ConfigurationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "arn", "created_at")
    search_fields = ("name", "arn")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ViewerSessionRevocation)
class ViewerSessionRevocationAdmin(admin.ModelAdmin):
    list_display = ("viewer_id", "channel", "max_version", "updated_at")
    search_fields = ("viewer_id", "channel__arn")

    def has_change_permission(self, request, obj=None):
        return False
