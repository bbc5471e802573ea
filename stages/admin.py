from django.contrib import admin

from stages.models import ParticipantToken, Stage, StageInvite


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "visibility", "created_at")
    list_filter = ("visibility",)
    search_fields = ("title", "owner__username", "arn")
    list_select_related = ("owner",)
    readonly_fields = ("arn", "created_at")
    raw_id_fields = ("owner", "invited_viewers")


@admin.register(StageInvite)
class StageInviteAdmin(admin.ModelAdmin):
    list_display = ("user", "stage", "kind", "status", "created_by", "created_at", "expires_at")
    list_filter = ("kind", "status")
    search_fields = ("user__username", "stage__title")
    list_select_related = ("user", "stage", "created_by")
    readonly_fields = (
        "stage",
        "user",
        "kind",
        "status",
        "created_by",
        "created_at",
        "expires_at",
        "answered_at",
        "ended_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(ParticipantToken)
class ParticipantTokenAdmin(admin.ModelAdmin):
    """Tokens the site issued, kept until they expire so they can be revoked."""

    list_display = ("participant_id", "stage", "user", "may_publish", "issued_at", "expires_at", "revoked_at")
    list_filter = ("may_publish",)
    search_fields = ("participant_id", "user__username", "stage__title")
    list_select_related = ("user", "stage")
    readonly_fields = [f.name for f in ParticipantToken._meta.fields]

    def has_add_permission(self, request):
        return False
