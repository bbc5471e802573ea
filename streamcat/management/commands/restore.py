from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from streamcat import backup


class Command(BaseCommand):
    help = (
        "Restore an archive made by `manage.py backup` into this checkout (StreamCat stopped): its database, "
        "secrets, keys, profile pictures and recordings. The archive is checked in full before anything changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="the .tar.gz made by `manage.py backup`")
        parser.add_argument("--force", action="store_true", help="replace a database that already has user accounts")

    def handle(self, *args, archive, force, **options):
        try:
            restored = backup.restore(archive, force=force)
        except (backup.BackupError, OSError) as exc:  # a full disk, a folder we may not write
            raise CommandError(str(exc)) from None
        engine = backup.ENGINE_NAME[restored.engine]
        self.stdout.write(
            self.style.SUCCESS(f"Restored {archive}")
            + f" (made {restored.created}): the {engine} database and {restored.files} file(s).\n"
            + "Start StreamCat as usual (scripts/run.sh)."
        )
