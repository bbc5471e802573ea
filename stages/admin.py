from django.contrib import admin

from stages.models import Stage


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "created_at")
    search_fields = ("title", "owner__username", "arn")
    list_select_related = ("owner",)
    readonly_fields = ("arn", "created_at")
    raw_id_fields = ("owner",)
