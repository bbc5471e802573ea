import io

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import RegexValidator
from PIL import Image, UnidentifiedImageError

from accounts.models import Profile

AVATAR_SIZE = 256
AVATAR_MAX_BYTES = 5 * 1024 * 1024


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
        if upload.size > AVATAR_MAX_BYTES:
            raise forms.ValidationError("The picture is larger than 5 MB.")
        try:
            with Image.open(upload) as image:
                if image.format not in {"JPEG", "PNG", "GIF", "WEBP"}:
                    raise forms.ValidationError("Upload a JPEG, PNG, GIF or WebP picture.")
                image.draft("RGB", (AVATAR_SIZE * 2, AVATAR_SIZE * 2))
                picture = image.convert("RGB")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise forms.ValidationError("This file is not a picture we can read.") from None
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side)).resize((AVATAR_SIZE, AVATAR_SIZE))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=88)
        return SimpleUploadedFile("avatar.jpg", out.getvalue(), content_type="image/jpeg")


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
