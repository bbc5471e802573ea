from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import RegexValidator

from accounts import avatars
from accounts.models import Profile


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The username becomes the channel's address (/c/<username>/).
        self.fields["username"].validators.append(
            RegexValidator(r"^[A-Za-z0-9_-]{3,30}$", "Use 3–30 letters, digits, - or _.")
        )
        self.fields["username"].help_text = "3–30 letters, digits, - or _. Your channel lives at /c/<username>/."


class ProfileForm(forms.ModelForm):
    email = forms.EmailField(required=False, help_text="For password resets; never shown to anyone.")
    avatar = forms.FileField(required=False, help_text="JPEG, PNG, GIF or WebP up to 5 MB; shown as a 256×256 square.")
    remove_avatar = forms.BooleanField(required=False, label="Remove my picture")

    class Meta:
        model = Profile
        fields = ["bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3, "placeholder": "A line about you and your streams"})}

    def clean_avatar(self):
        """Whatever was uploaded is decoded and re-encoded as a square JPEG, so only
        pixels reach the disk (no scripts in SVGs, no metadata, no giant images)."""
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        try:
            return avatars.square_jpeg(upload)
        except avatars.PictureError as exc:
            raise forms.ValidationError(str(exc)) from None


class DeleteAccountForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, help_text="Your password, to confirm it is you.")
    recordings = forms.ChoiceField(
        choices=[
            ("keep", "Keep my past broadcasts watchable on my channel page"),
            ("remove", "Delete my past broadcasts and their recordings too"),
        ],
        widget=forms.RadioSelect,
        initial="remove",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data["password"]):
            raise forms.ValidationError("That is not your password.")
        return self.cleaned_data["password"]
