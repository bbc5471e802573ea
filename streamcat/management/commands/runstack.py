import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from core import video
from streamcat.stack import Stack, StackError


class Command(BaseCommand):
    help = "Start every StreamCat process (Redis, nginx-rtmp, ASGI, Celery worker and beat) and print the URLs."

    def handle(self, *args, **options):
        stack = Stack(var_dir=settings.VAR_DIR)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            stack.start()
        except StackError as exc:
            self.stderr.write(f"StreamCat could not start: {exc}\nLogs are in {stack.log_dir}")
            raise SystemExit(1) from exc
        self._print_urls()
        try:
            while not stopping:
                exited = stack.exited()
                if exited:
                    name, code = next(iter(exited.items()))
                    self.stderr.write(
                        f"{name} exited with {code}; stopping. Last lines of its log:\n{stack.tail(name)}"
                    )
                    raise SystemExit(1)
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping StreamCat…")
            stack.stop()

    def _print_urls(self):
        key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
        rtmp = f"rtmp://{settings.PUBLIC_HOST}:{settings.RTMP_PORT}/app/"
        self.stdout.write(
            self.style.SUCCESS("\nStreamCat is running.\n")
            + f"  Site:            {settings.PUBLIC_URL}/\n"
            + f"  Admin:           {settings.PUBLIC_URL}/admin/\n"
            + f"  RTMP ingest URL: {rtmp}  (stream key: on your dashboard)\n"
            + f"  IVS API (local): {video.local_endpoint('ivs')}  and  {video.local_endpoint('ivs-realtime')}\n"
            + f"      AWS_ACCESS_KEY_ID={key_id}\n"
            + f"      AWS_SECRET_ACCESS_KEY={secret}\n"
            + f"      aws ivs list-channels --region {settings.AWS_REGION} "
            + f"--endpoint-url {video.local_endpoint('ivs')}\n"
            + f"  Logs:            {settings.VAR_DIR / 'log'}\n"
            + "Press Ctrl-C to stop.\n"
        )
