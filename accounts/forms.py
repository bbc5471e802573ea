from django.contrib.auth.forms import UserCreationForm
from django.core.validators import RegexValidator


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
