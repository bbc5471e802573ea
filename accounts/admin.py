from django.contrib import admin

from accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "bio")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    # A picture uploaded here would skip the re-encoding (accounts.avatars) that strips it to pixels.
    readonly_fields = ("avatar",)
