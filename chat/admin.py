"""Moderators work here too: every change goes through chat.services, so the sockets
hear about it and the moderation log records it."""

from django.contrib import admin, messages

from chat import services
from chat.models import ChatBan, ChatModerator, ChatRoom, Message, ModerationAction


class _ModerationMixin:
    def has_moderate_permission(self, request):
        return request.user.has_perm("chat.moderate_chat")

    def _each(self, request, items, action, done: str):
        count = 0
        for item in items:
            try:
                action(item)
                count += 1
            except services.ChatError as exc:
                self.message_user(request, f"{item}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done}: {count}.", messages.SUCCESS)


@admin.register(ChatRoom)
class ChatRoomAdmin(_ModerationMixin, admin.ModelAdmin):
    list_display = ("__str__", "owner", "slow_mode_seconds")
    search_fields = ("owner__username", "channel__title", "stage__title")
    list_select_related = ("owner", "channel", "stage")
    fields = ("owner", "channel", "stage", "slow_mode_seconds", "blocked_words")
    readonly_fields = ("owner", "channel", "stage")
    actions = ("clear_chat",)

    def has_add_permission(self, request):
        return False  # rooms come with their channel or stage

    def save_model(self, request, obj, form, change):
        try:
            if "slow_mode_seconds" in form.changed_data:
                services.set_slow_mode(room=obj, moderator=request.user, seconds=obj.slow_mode_seconds)
            if "blocked_words" in form.changed_data:
                services.set_blocked_words(room=obj, moderator=request.user, words=obj.blocked_words)
        except services.ChatError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Clear the chat (hide every message)", permissions=["moderate"])
    def clear_chat(self, request, queryset):
        self._each(request, queryset, lambda room: services.clear_chat(room=room, moderator=request.user), "Cleared")


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("visible", "Visible"), ("deleted", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "visible":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Message)
class MessageAdmin(_ModerationMixin, admin.ModelAdmin):
    list_display = ("sent_at", "user", "text", "room", "deleted_at")
    list_filter = (DeletedFilter, "sent_at")
    search_fields = ("text", "user__username", "room__channel__title", "room__stage__title", "room__owner__username")
    list_select_related = ("user", "room__channel", "room__stage")
    readonly_fields = ("room", "user", "text", "sent_at", "deleted_at", "deleted_by")
    date_hierarchy = "sent_at"
    actions = ("delete_messages", "time_out_authors", "ban_authors")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting hides a message and logs it: use the action

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Delete the messages (hidden for everyone)", permissions=["moderate"])
    def delete_messages(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda m: services.delete_message(room=m.room, moderator=request.user, message_id=m.pk),
            "Deleted",
        )

    @admin.action(description="Time out their authors for 10 minutes", permissions=["moderate"])
    def time_out_authors(self, request, queryset):
        authors = {(m.room, m.user_id) for m in queryset.select_related("room")}
        self._each(
            request,
            authors,
            lambda a: services.timeout_user(room=a[0], moderator=request.user, user_id=a[1], minutes=10),
            "Timed out",
        )

    @admin.action(description="Ban their authors from the chat", permissions=["moderate"])
    def ban_authors(self, request, queryset):
        authors = {(m.room, m.user_id) for m in queryset.select_related("room")}
        self._each(
            request, authors, lambda a: services.ban_user(room=a[0], moderator=request.user, user_id=a[1]), "Banned"
        )


@admin.register(ChatBan)
class ChatBanAdmin(_ModerationMixin, admin.ModelAdmin):
    list_display = ("user", "room", "kind", "until", "reason", "created_by", "created_at")
    search_fields = ("user__username", "reason", "room__channel__title", "room__stage__title")
    list_select_related = ("user", "created_by", "room__channel", "room__stage")
    readonly_fields = ("room", "user", "until", "reason", "created_by", "created_at")
    actions = ("lift",)

    @admin.display(description="kind")
    def kind(self, obj):
        return "ban" if obj.is_ban else ("time-out" if obj.is_active else "time-out (over)")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # lifting goes through the action, which logs and tells the user

    @admin.action(description="Lift the bans and time-outs", permissions=["moderate"])
    def lift(self, request, queryset):
        self._each(
            request,
            queryset.select_related("room"),
            lambda b: services.lift_sanction(room=b.room, moderator=request.user, user_id=b.user_id),
            "Lifted",
        )


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "moderator", "kind", "target", "room", "detail")
    list_filter = ("kind", "created_at")
    search_fields = ("moderator__username", "target__username", "detail")
    list_select_related = ("moderator", "target", "room__channel", "room__stage")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is append-only


@admin.register(ChatModerator)
class ChatModeratorAdmin(admin.ModelAdmin):
    list_display = ("moderator", "streamer", "appointed_at")
    search_fields = ("moderator__username", "streamer__username")
    raw_id_fields = ("streamer", "moderator")
