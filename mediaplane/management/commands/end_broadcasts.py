from django.core.management.base import BaseCommand

from mediaplane.services import ingest


class Command(BaseCommand):
    help = (
        "End every live broadcast cleanly: close its session as a plain Stream End and drop its "
        "publisher from nginx (if nginx answers). The stack's shutdown runs this before stopping nginx."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="PlaneShutdown", help="recorded as the Stream Stopped event's code")

    def handle(self, *args, reason, **options):
        ended = ingest.end_all_sessions(reason=reason)
        self.stdout.write(f"Ended {ended} live broadcast(s).")
