from django import forms


class ChannelForm(forms.Form):
    title = forms.CharField(
        max_length=140,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "What are you streaming today?", "autocomplete": "off"}),
    )
