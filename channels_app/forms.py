from django import forms

from channels_app.models import Channel


class ChannelForm(forms.Form):
    title = forms.CharField(
        max_length=140,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "What are you streaming today?", "autocomplete": "off"}),
    )


class ChannelSettingsForm(forms.ModelForm):
    """What viewers see of the channel and who may watch it (the dashboard's channel panel)."""

    class Meta:
        model = Channel
        fields = ["title", "category", "playback_access"]
        labels = {"playback_access": "Who can watch"}
        widgets = {"title": forms.TextInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].empty_label = "No category"
        self.fields["playback_access"].help_text = "Private channels play only for the viewers you allow."
