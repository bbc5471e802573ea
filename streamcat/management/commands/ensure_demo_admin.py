import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo admin user once (password kept in var/demo-admin-password) and print how to log in."

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "demo-admin-password"
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.invalid", password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        password = password_file.read_text().strip() if password_file.exists() else "(set before; unchanged)"
        self.stdout.write(f"Demo admin: username 'admin', password '{password}'")
