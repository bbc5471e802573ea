from django import forms

from stages.models import Visibility


class StageForm(forms.Form):
    title = forms.CharField(
        max_length=140,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "Name your stage, e.g. Friday talk show", "autocomplete": "off"}),
    )


class StageAccessForm(forms.Form):
    visibility = forms.ChoiceField(label="Who can watch", choices=Visibility.choices)
    invited = forms.CharField(
        label="Invited viewers",
        required=False,
        help_text="One username per line; they can watch when only people you invite can.",
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
    )

    def clean_invited(self) -> list[str]:
        return self.cleaned_data["invited"].split()
