from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from streamcat import backup


class Command(BaseCommand):
    help = (
        "Save everything this install would lose (database, secrets and keys, profile pictures, recordings) "
        "into one .tar.gz, mode 600. Safe while StreamCat runs. See README, 'Backup and restore'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help="the archive to write, or a folder for it (default: var/backups/streamcat-<UTC time>.tar.gz)",
        )

    def handle(self, *args, output, **options):
        try:
            saved = backup.create(output=output)
        except (backup.BackupError, OSError) as exc:  # a full disk, a folder we may not write
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Saved {saved.path}")
            + f" (the database and {saved.files} file(s), {saved.size / 1e6:.1f} MB).\n"
            + "It holds this install's secrets: keep it somewhere safe, and off this machine."
        )
