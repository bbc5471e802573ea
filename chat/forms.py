from django import forms


class BlockedWordsForm(forms.Form):
    words = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "One word or phrase per line"}),
        label="Blocked words",
    )


class ModeratorForm(forms.Form):
    username = forms.CharField(
        max_length=150, label="Add a moderator", widget=forms.TextInput(attrs={"placeholder": "username"})
    )
