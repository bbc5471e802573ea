from django import forms


class StageForm(forms.Form):
    title = forms.CharField(
        max_length=140,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "Name your stage, e.g. Friday talk show", "autocomplete": "off"}),
    )
