from django import template

from channels_app.models import Channel
from stages.forms import StageAccessForm

register = template.Library()


@register.inclusion_tag("stages/partials/access_form.html", takes_context=True)
def stage_access_form(context, stage):
    """The host's "Who can watch" form, on the stage studio and the go-live studio."""
    invited = "\n".join(stage.invited_viewers.order_by("username").values_list("username", flat=True))
    return {
        "stage": stage,
        "form": StageAccessForm(initial={"visibility": stage.visibility, "invited": invited}),
        "feeds_channel": Channel.objects.filter(studio=stage).exists(),
        "next": context["request"].get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
