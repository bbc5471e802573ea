import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from streamcat import systemd
from streamcat.stack import ALL_PARTS, PRIORITY, SHARED_SOCKET, STOP_WAIT, Stack, enabled


def stack_parts(stack: Stack) -> list[systemd.Part]:
    """The stack's parts with the commands it runs them with (Stack.commands())."""
    parts = []
    for name, (argv, port) in stack.commands().items():
        if name not in enabled(ALL_PARTS):
            continue
        environment = {}
        if name == "janus" and settings.JANUS_LOOPBACK_ICE:
            environment["LD_PRELOAD"] = str(stack.var_dir / "janus" / "loopback_ice.so")
        parts.append(
            systemd.Part(
                name=name,
                argv=argv,
                port=port,
                priority=PRIORITY[name],
                processes=SHARED_SOCKET[name]() if name in SHARED_SOCKET else 0,
                stop_seconds=STOP_WAIT.get(name, 10),
                project_code=argv[0] == sys.executable,
                environment=environment,
            )
        )
    return parts


class Command(BaseCommand):
    help = (
        "Write the systemd units that run every StreamCat part as a service (scripts/install-service.sh), "
        "for the settings this command runs with; or, with --prepare, write the runtime folders and the "
        "parts' configuration, as the stack does before it starts them."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--out", type=Path, help="folder to write the unit files into")
        action.add_argument("--prepare", action="store_true", help="runtime folders and configuration files")
        parser.add_argument("--user", default="streamcat", help="the unprivileged user the parts run as")
        parser.add_argument(
            "--env-file", type=Path, default=Path("/etc/streamcat/streamcat.env"), help="the settings the parts read"
        )

    def handle(self, *args, out, prepare, user, env_file, **options):
        stack = Stack(var_dir=settings.VAR_DIR)
        if prepare:
            stack.prepare()
            return
        install = systemd.Installation(
            user=user,
            env_file=env_file.absolute(),
            base_dir=settings.BASE_DIR,
            var_dir=settings.VAR_DIR.absolute(),
            python=sys.executable,
        )
        try:
            files = systemd.unit_files(install, stack_parts(stack))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text)
        self.stdout.write("\n".join(sorted(files)))
