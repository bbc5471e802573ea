from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def avatar(user, size: str = "") -> str:
    """The user's picture, or their initial on a coloured disc."""
    classes = f"avatar {size}".strip()
    try:
        picture = user.profile.avatar
    except (AttributeError, ObjectDoesNotExist):
        picture = None
    if picture:
        return format_html('<img class="{}" src="{}" alt="{}">', classes, picture.url, user.username)
    return format_html('<div class="{}">{}</div>', classes, user.username[:1].upper())
