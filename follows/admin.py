from django.contrib import admin

from follows.models import Follow


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("user", "channel", "created_at")
    search_fields = ("user__username", "channel__slug")
    raw_id_fields = ("user", "channel")
