from django.contrib import admin, messages

from channels_app import services
from channels_app.models import Category, Channel, HealthSample, StreamEvent, StreamSession


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position", "channel_count")
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)

    @admin.display(description="channels")
    def channel_count(self, obj):
        return obj.channels.count()


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "category", "playback_access", "is_live", "is_disabled", "live_since")
    list_filter = ("is_disabled", "category", "playback_access", ("live_since", admin.EmptyFieldListFilter))
    search_fields = ("title", "owner__username", "slug", "arn")
    list_select_related = ("owner", "category")
    readonly_fields = (
        "arn",
        "playback_url",
        "ingest_endpoint",
        "stream_key_arn",
        "live_since",
        "last_live_at",
        "created_at",
        "is_disabled",
        "playback_access",
    )
    fields = ("owner", "slug", "title", "category", *readonly_fields)
    raw_id_fields = ("owner",)
    actions = ("stop_stream", "disable_channel", "enable_channel", "reset_stream_key")

    @admin.display(boolean=True, description="live")
    def is_live(self, obj):
        return obj.is_live

    def has_stop_stream_permission(self, request):
        return request.user.has_perm("channels_app.stop_stream")

    def has_disable_channel_permission(self, request):
        return request.user.has_perm("channels_app.disable_channel")

    def has_reset_stream_key_permission(self, request):
        return request.user.has_perm("channels_app.reset_stream_key")

    def _each(self, request, queryset, action, done: str):
        count = 0
        for channel in queryset:
            try:
                if action(channel) is not False:
                    count += 1
            except services.ChannelError as exc:
                self.message_user(request, f"{channel}: {exc}", messages.ERROR)
        self.message_user(request, f"{done}: {count} channel(s).", messages.SUCCESS)

    @admin.action(description="Stop the live stream", permissions=["stop_stream"])
    def stop_stream(self, request, queryset):
        self._each(request, queryset, lambda c: services.stop_stream(channel=c, by=request.user), "Stopped")

    @admin.action(description="Disable (stop and remove the stream key)", permissions=["disable_channel"])
    def disable_channel(self, request, queryset):
        self._each(request, queryset, lambda c: services.disable_channel(channel=c, by=request.user), "Disabled")

    @admin.action(description="Enable (issue a new stream key)", permissions=["disable_channel"])
    def enable_channel(self, request, queryset):
        self._each(request, queryset, lambda c: services.enable_channel(channel=c), "Enabled")

    @admin.action(description="Reset the stream key", permissions=["reset_stream_key"])
    def reset_stream_key(self, request, queryset):
        self._each(request, queryset, lambda c: services.reset_stream_key(channel=c), "New key for")


class HealthSampleInline(admin.TabularInline):
    model = HealthSample
    extra = 0
    can_delete = False
    readonly_fields = ("time", "video_bitrate", "audio_bitrate", "framerate")
    max_num = 0


class StreamEventInline(admin.TabularInline):
    model = StreamEvent
    extra = 0
    can_delete = False
    readonly_fields = ("time", "name", "code", "detail")
    max_num = 0


@admin.register(StreamSession)
class StreamSessionAdmin(admin.ModelAdmin):
    list_display = ("stream_id", "channel", "started_at", "ended_at")
    list_select_related = ("channel",)
    search_fields = ("stream_id", "channel__title", "channel__owner__username")
    date_hierarchy = "started_at"
    readonly_fields = ("channel", "stream_id", "started_at", "ended_at", "ingest_configuration", "last_sample_at")
    inlines = (StreamEventInline, HealthSampleInline)
