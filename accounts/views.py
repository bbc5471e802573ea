import hashlib
import math

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import avatars, services, throttling
from accounts.forms import DeleteAccountForm, ProfileForm, SignupForm
from accounts.models import Profile
from core import ratelimit

# Password-reset requests: per address (then told to wait), and mails per target
# address (then silently none), each per hour.
RESET_REQUESTS_PER_ADDRESS = 10
RESET_MAILS_PER_EMAIL = 3
RESET_WINDOW = 3600


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    profile, _ = Profile.objects.get_or_create(user=request.user)
    form = ProfileForm(
        request.POST or None, request.FILES or None, instance=profile, initial={"email": request.user.email}
    )
    if request.method == "POST" and form.is_valid():
        # Only the fields this form owns: saving the whole row could write back a picture
        # name another request has just replaced.
        profile.save(update_fields=["bio"])
        request.user.email = form.cleaned_data["email"]
        request.user.save(update_fields=["email"])
        if form.cleaned_data["avatar"] or form.cleaned_data["remove_avatar"]:
            avatars.avatar_replace(user=request.user, picture=form.cleaned_data["avatar"])
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(
        request, "accounts/profile.html", {"form": form, "profile": profile}, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        services.delete_account(user=user, keep_recordings=form.cleaned_data["recordings"] == "keep")
        messages.success(request, "Your account is deleted. Thank you for streaming with us.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form}, status=400 if form.errors else 200)


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a log-in while locked out (AXES_LOCKOUT_CALLABLE): the
    log-in page again, saying how long to wait. Each try while locked out starts the
    cool-off again (axes' default), so the full cool-off is the true wait."""
    minutes = math.ceil(get_cool_off(request).total_seconds() / 60)
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return render(request, "accounts/login.html", {"form": form, "locked_out_minutes": minutes}, status=429)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by email, throttled. An address asking too often is told to wait.
    A target email that was sent RESET_MAILS_PER_EMAIL links this hour gets no more, but
    silently: the answer must not tell whether the email has an account, and the links
    already sent still work, so nobody can mail-bomb an inbox or block its owner's reset."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    def post(self, request, *args, **kwargs):
        key = f"password-reset:address:{throttling.client_address(request)}"
        if not ratelimit.allow(key, limit=RESET_REQUESTS_PER_ADDRESS, window=RESET_WINDOW):
            context = self.get_context_data(form=self.get_form(), throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = hashlib.sha256(form.cleaned_data["email"].lower().encode()).hexdigest()
        if ratelimit.allow(f"password-reset:email:{email}", limit=RESET_MAILS_PER_EMAIL, window=RESET_WINDOW):
            return super().form_valid(form)
        return HttpResponseRedirect(self.get_success_url())
