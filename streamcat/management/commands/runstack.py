import contextlib
import signal
import time
import xmlrpc.client

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core import video
from streamcat.stack import Stack, StackError

RETRY_GIVEN_UP = 30  # seconds


class Command(BaseCommand):
    help = "Start every StreamCat process under supervision (restarted when one dies) and print the URLs."

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
        given_up: dict[str, float] = {}
        supervisor_log = stack.log_dir / f"supervisord-{stack.label}.log"
        read_up_to = supervisor_log.stat().st_size if supervisor_log.exists() else 0
        try:
            while not stopping:
                if stack.supervisord.poll() is not None:
                    self.stderr.write(f"supervisord exited; see {stack.log_dir}")
                    raise SystemExit(1)
                read_up_to = self._echo_deaths(supervisor_log, read_up_to)
                given_up = self._retry_given_up(stack, given_up)
                time.sleep(1)
        finally:
            self.stdout.write("Stopping StreamCat…")
            if settings.MEDIA_PLANE == "local":
                # nginx first, so no encoder reconnects into a new broadcast; then every
                # open session ends cleanly (a Stream End, not a lost ingest).
                try:
                    stack.hold_down("nginx")
                    call_command("end_broadcasts")
                except Exception as exc:  # noqa: BLE001 - stopping goes on whatever failed
                    self.stderr.write(f"could not end the live broadcasts cleanly: {exc}")
            stack.stop()

    def _echo_deaths(self, supervisor_log, offset: int) -> int:
        """Show the operator each unexpected exit supervisord logged (it restarts the part)."""
        try:
            with supervisor_log.open("rb") as log:
                if supervisor_log.stat().st_size < offset:
                    offset = 0  # rotated
                log.seek(offset)
                new = log.read()
        except OSError:
            return offset
        for line in new.decode(errors="replace").splitlines():
            if "not expected" in line:
                self.stderr.write(line + " — restarting it")
        return offset + len(new)

    def _retry_given_up(self, stack: Stack, given_up: dict[str, float]) -> dict[str, float]:
        """supervisord gives a part up when it keeps dying at start (FATAL). Say so once,
        and try it again every RETRY_GIVEN_UP seconds: what stopped it (a port taken, the
        database down) may pass. The rest keeps serving meanwhile."""
        try:
            fatal = {name for name, state in stack.states().items() if state == "FATAL"}
        except (OSError, xmlrpc.client.Fault):
            return given_up
        now = time.monotonic()
        for name in fatal - given_up.keys():
            self.stderr.write(f"{name} keeps failing to start; trying again every {RETRY_GIVEN_UP}s. Its log:\n")
            self.stderr.write(stack.tail(name.split(":")[0]))
            given_up[name] = now
        for name, since in list(given_up.items()):
            if name not in fatal:
                del given_up[name]
            elif now - since >= RETRY_GIVEN_UP:
                with contextlib.suppress(OSError, xmlrpc.client.Fault):
                    stack.restart_process(name)
                given_up[name] = now
        return given_up

    def _certificate_line(self) -> str:
        if settings.TLS == "acme":
            return f"  Certificate:     from {settings.ACME_SERVER} by certbot, renewed by itself (var/acme/)\n"
        if settings.TLS == "self-signed" and not settings.TLS_CERT:
            return f"  Certificate:     this installation's CA; devices import {settings.PUBLIC_URL}/streamcat-ca.crt\n"
        return ""

    def _print_urls(self):
        key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
        rtmps = f"rtmps://{settings.PUBLIC_HOST}:{settings.RTMPS_PORT}/app/"
        rtmp = f"rtmp://{settings.PUBLIC_HOST}:{settings.RTMP_PORT}/app/"
        self.stdout.write(
            self.style.SUCCESS("\nStreamCat is running.\n")
            + f"  Site:            {settings.PUBLIC_URL}/\n"
            + f"  Admin:           {settings.PUBLIC_URL}/admin/\n"
            + self._certificate_line()
            + f"  Ingest (RTMPS):  {rtmps}  (stream key: on your dashboard)\n"
            + f"  Plain RTMP:      {rtmp}  (only channels that allow insecure ingest)\n"
            + f"  SRT ingest URL:  srt://{settings.PUBLIC_HOST}:{settings.SRT_PORT}?streamid=<stream key>"
            + "&passphrase=<the channel's srt.passphrase>  (UDP; insecureIngest channels: no passphrase)\n"
            + f"  IVS API (local): {video.local_endpoint('ivs')}  and  {video.local_endpoint('ivs-realtime')}\n"
            + f"      AWS_ACCESS_KEY_ID={key_id}\n"
            + f"      AWS_SECRET_ACCESS_KEY={secret}\n"
            + f"      aws ivs list-channels --region {settings.AWS_REGION} "
            + f"--endpoint-url {video.local_endpoint('ivs')}\n"
            + f"  Logs:            {settings.VAR_DIR / 'log'} (supervisord-stack.log says which part died and when)\n"
            + "Every part is restarted if it dies. Press Ctrl-C to stop.\n"
        )
