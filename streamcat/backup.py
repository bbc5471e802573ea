"""Backup and restore: everything an install would lose with its machine, in one archive.

What is saved: the database; the secrets and signing keys StreamCat made for itself in
var/ (Django's secret key, the plane's access keys and callback secrets, the playback
and participant-token signing keys); profile pictures (MEDIA_ROOT); recordings (the
local plane's buckets, STORAGE_DIR); the demo admin's password file. Not saved, because
StreamCat makes them again on start: logs, HLS, caches, collected static files and the
generated nginx/Janus/supervisor configurations; nor raw recordings still being written
(var/recordings-in).

The database is saved with the engine's own tool, not as Django fixtures: SQLite's
online backup API and PostgreSQL's pg_dump each take one consistent snapshot while the
site keeps writing, and keep everything exactly (sequences, sessions, rows of tables no
model describes) with no signal handlers run on load. The price: a backup restores into
the engine it came from.

The archive is a .tar.gz: `manifest.json` (format, time, engine, the migrations the
database is at, and every member's size and SHA-256), the database as `database.sqlite3`
or `database.sql`, and the files under `files/`. A restore checks all of it before it
changes anything.
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.sql"}
ENGINE_NAME = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FILES = "files/"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Why a backup or restore cannot go on, in words for the person running it."""


def _places() -> dict[str, Path]:
    """The files saved besides the database: name in the archive → where it lives here."""
    var = settings.VAR_DIR
    return {
        "secrets.json": var / "secrets.json",
        "demo-admin-password": var / "demo-admin-password",
        "keys/playback-signing.pem": settings.PLAYBACK_KEY_FILE,
        "keys/participant-token-signing.pem": var / "keys" / "participant-token-signing.pem",
        "media": settings.MEDIA_ROOT,
        "storage": settings.STORAGE_DIR,
    }


PRIVATE_PLACES = ("secrets.json", "demo-admin-password", "keys/")
FOLDER_PLACES = ("media", "storage")


def _local_path(name: str) -> Path | None:
    """Where the archive's `files/<name>` goes in this install (None: nowhere we know)."""
    for place, path in _places().items():
        if name == place:
            # A file, not a folder: "media" or "storage" itself would replace the folder.
            return path if place not in FOLDER_PLACES else None
        if name.startswith(place + "/"):
            return path / name[len(place) + 1 :]
    return None


# --- Backup ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    path: Path
    files: int
    size: int


def create(*, output: Path | None = None) -> Saved:
    """Write the archive to `output`, a file or a folder (default var/backups), named
    streamcat-<UTC time>.tar.gz in a folder; mode 600, as it holds the secrets. The file
    appears complete or not at all."""
    engine = _engine()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    output = Path(output or settings.VAR_DIR / "backups").absolute()
    if output.is_dir() or not output.suffix:
        output = output / f"streamcat-{now:%Y%m%d-%H%M%S}.tar.gz"
    output.parent.mkdir(parents=True, exist_ok=True)
    # Worked out beside the output (mode 700), so the finished file is renamed into place.
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".streamcat-backup-") as work:
        database = Path(work) / DATABASE_MEMBER[engine]
        # The database first: a file added after its snapshot is only an unused file,
        # where the other order could leave a row naming a file the backup lacks.
        _dump_database(engine, database)
        partial = Path(work) / "archive.tar.gz"
        members: dict[str, dict] = {}
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                members[database.name] = _add(tar, database.name, database)
                for name, path in _files_to_save():
                    saved = _add(tar, FILES + name, path)
                    if saved:
                        members[FILES + name] = saved
                manifest = {
                    "format": FORMAT,
                    "created": now.isoformat(),
                    "engine": engine,
                    "migrations": sorted(f"{app}.{name}" for app, name in _applied_migrations()),
                    "files": members,
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, output)
    return Saved(path=output, files=len(members) - 1, size=output.stat().st_size)


def _engine() -> str:
    if connection.vendor not in DATABASE_MEMBER:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")
    return connection.vendor


def _applied_migrations() -> set[tuple[str, str]]:
    return set(MigrationRecorder(connection).applied_migrations())


def _dump_database(engine: str, into: Path) -> None:
    if engine == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        if not name.is_file():
            raise BackupError(f"There is no database at {name}: nothing to back up.")
        # The online backup API copies one consistent snapshot; WAL lets the site write meanwhile.
        _sqlite_copy(name, into, failed=f"Could not read the database at {name}")
        return
    # pg_dump reads the whole database in one snapshot, while the site keeps writing.
    _run_postgres_tool(
        "pg_dump", "--format=plain", "--no-owner", "--no-privileges", f"--file={into}", failed="could not save"
    )


def _files_to_save():
    """(archive name, path) of every regular file to save; links and the like are skipped."""
    for place, path in _places().items():
        if path.is_file() and not path.is_symlink():
            yield place, path
        elif path.is_dir() and not path.is_symlink():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for file in sorted(files):
                    found = Path(folder) / file
                    if found.is_file() and not found.is_symlink():
                        yield f"{place}/{found.relative_to(path).as_posix()}", found


class _Hashing:
    """Reads a file for tarfile, hashing exactly the bytes that go into the archive."""

    def __init__(self, file):
        self.file, self.sha256 = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.sha256.update(data)
        return data


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict | None:
    try:
        file = path.open("rb")
    except FileNotFoundError:  # deleted since the folder was listed: not part of the backup
        return None
    with file:
        size = os.fstat(file.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, int(path.stat().st_mtime)
        reader = _Hashing(file)
        try:
            tar.addfile(info, reader)
        except OSError as exc:  # tarfile's "unexpected end of data": it shrank while being read
            raise BackupError(f"{path} changed while it was being saved ({exc}); run the backup again.") from None
    return {"size": size, "sha256": reader.sha256.hexdigest()}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# --- PostgreSQL tools ---------------------------------------------------------------------


def _postgres_tool(name: str) -> str:
    """The newest installed client tool (pg_dump must be at least the server's version)."""
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in folders:
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed; install Debian's postgresql-client.")
    return found


def _run_postgres_tool(tool: str, *args: str, failed: str) -> None:
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGUSER": db.get("USER") or ""}
    # Connection details travel in the environment: a password never shows in `ps`.
    for variable, value in {
        "PGPASSWORD": db.get("PASSWORD"),
        "PGHOST": db.get("HOST"),
        "PGPORT": str(db.get("PORT") or ""),
        "PGSSLMODE": db.get("OPTIONS", {}).get("sslmode"),
    }.items():
        if value:
            env[variable] = value
    result = subprocess.run([_postgres_tool(tool), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-3:]
        raise BackupError(f"PostgreSQL {failed} the database {db['NAME']}: " + " ".join(detail))


# --- Restore ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    created: str
    engine: str
    files: int


def restore(archive: Path, *, force: bool = False) -> Restored:
    """Put the archive's database and files into this install, then migrate the database
    to this checkout's code. The whole archive is checked first (names, links, sizes,
    checksums, engine, migrations); a database with user accounts is replaced only with
    `force`. Stop StreamCat first: a running site would keep writing to the old state."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"There is no backup file at {archive}.")
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=settings.VAR_DIR, prefix=".restore-"))
    try:
        manifest = _unpack(archive, staging)
        _check_fits(manifest, archive)
        _refuse_while_running()
        if not force:
            _refuse_a_database_in_use()
        # nginx's list of public channels (its fallback while the playback-auth server is
        # down) described the old database: gone until the auth server writes it anew.
        shutil.rmtree(settings.VAR_DIR / "run" / "public-channels", ignore_errors=True)
        _load_database(manifest["engine"], staging / DATABASE_MEMBER[manifest["engine"]])
        files = [name for name in manifest["files"] if name.startswith(FILES)]
        for name in files:
            _place(staging / name, name.removeprefix(FILES))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    call_command("migrate", interactive=False, verbosity=0)
    return Restored(created=manifest["created"], engine=manifest["engine"], files=len(files))


def _refuse_while_running() -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", settings.APP_PORT)) == 0:
            raise BackupError(
                f"StreamCat seems to be running (something answers on port {settings.APP_PORT}): stop it first."
            )


def _member_name(member: tarfile.TarInfo, archive: Path) -> str:
    """The member's name if it is a plain file we know where to put; else a refusal."""
    name = member.name
    if name.startswith("/") or "\\" in name or any(part in {"", ".", ".."} for part in name.split("/")):
        raise BackupError(f"Refused {archive}: its member {name!r} points outside the folder it restores into.")
    if member.issym() or member.islnk():
        raise BackupError(f"Refused {archive}: its member {name!r} is a link (to {member.linkname!r}), not a file.")
    if not member.isfile():
        raise BackupError(f"Refused {archive}: its member {name!r} is not a plain file.")
    known = name == MANIFEST or name in DATABASE_MEMBER.values()
    if not known and not (name.startswith(FILES) and _local_path(name.removeprefix(FILES)) is not None):
        raise BackupError(f"Refused {archive}: {name!r} is not part of a StreamCat backup.")
    return name


def _unpack(archive: Path, staging: Path) -> dict:
    """Extract into `staging`, checking every member; returns the manifest."""
    found: dict[str, dict] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = _member_name(member, archive)
                if name in found:
                    raise BackupError(f"Refused {archive}: it holds {name!r} twice.")
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                reader = _Hashing(source)
                with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                    while chunk := reader.read(CHUNK):
                        out.write(chunk)
                found[name] = {"size": member.size, "sha256": reader.sha256.hexdigest()}
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError(f"{archive} is not a readable backup archive ({exc}).") from None
    if MANIFEST not in found:
        raise BackupError(f"{archive} is not a StreamCat backup: it has no {MANIFEST}.")
    manifest = _read_manifest(staging / MANIFEST, archive)
    listed = manifest["files"]
    if DATABASE_MEMBER[manifest["engine"]] not in listed:
        raise BackupError(f"{archive}: its manifest names no {ENGINE_NAME[manifest['engine']]} database.")
    del found[MANIFEST]
    if unlisted := sorted(found.keys() - listed.keys()):
        raise BackupError(f"Refused {archive}: {unlisted[0]!r} is not listed in its manifest.")
    if missing := sorted(listed.keys() - found.keys()):
        raise BackupError(f"Refused {archive}: {missing[0]!r} is listed in its manifest but missing.")
    if changed := sorted(name for name, seen in found.items() if seen != listed[name]):
        raise BackupError(
            f"Refused {archive}: {changed[0]!r} does not match its checksum in the manifest "
            "(the archive is damaged or was changed)."
        )
    return manifest


def _read_manifest(path: Path, archive: Path) -> dict:
    """The manifest, once it is known to have the shape `create` writes."""
    try:
        manifest = json.loads(path.read_text())
        if manifest["format"] != FORMAT:
            raise BackupError(f"{archive} is a backup in format {manifest['format']!r}; this StreamCat reads {FORMAT}.")
        well_formed = (
            manifest["engine"] in DATABASE_MEMBER
            and isinstance(manifest["created"], str)
            and isinstance(manifest["files"], dict)
            and all(isinstance(m, str) for m in manifest["migrations"])
        )
    except (ValueError, KeyError, TypeError):
        well_formed = False
    if not well_formed:
        raise BackupError(f"{archive}: its {MANIFEST} is not one a StreamCat backup writes.")
    return manifest


def _check_fits(manifest: dict, archive: Path) -> None:
    engine = manifest["engine"]
    if engine != connection.vendor:
        raise BackupError(
            f"{archive} holds a {ENGINE_NAME[engine]} database, but DATABASE_URL points at "
            f"{ENGINE_NAME.get(connection.vendor, connection.vendor)}: restore it into {ENGINE_NAME[engine]} "
            "(a backup restores into the engine it came from)."
        )
    known = {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}
    newer = sorted(set(manifest["migrations"]) - known)
    if newer:
        raise BackupError(
            f"{archive} comes from a newer StreamCat (its database has migrations this checkout lacks: "
            f"{', '.join(newer[:3])}): update this checkout first."
        )


def _refuse_a_database_in_use() -> None:
    users = get_user_model()._meta.db_table
    if users not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(users)}")  # noqa: S608 - a table name
        (count,) = cursor.fetchone()
    if count:
        raise BackupError(
            f"The database ({connection.settings_dict['NAME']}) already has {count} user account(s); "
            "restoring would replace it. Add --force to replace it."
        )


def _sqlite_copy(source_path, target_path, *, failed: str) -> None:
    """Copy one SQLite database into another with SQLite's backup API (waiting up to 20 s
    for a writer of either to finish)."""
    source, target = sqlite3.connect(source_path, timeout=20), sqlite3.connect(target_path, timeout=20)
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"{failed}: {exc}") from None
    finally:
        target.close()
        source.close()


def _load_database(engine: str, dump: Path) -> None:
    if engine == "sqlite":
        name = connection.settings_dict["NAME"]
        connection.close()
        # The backup API writes the whole database in one transaction, whatever was there.
        _sqlite_copy(dump, name, failed=f"Could not write the database at {name}")
        return
    # One transaction: drop what is there (a migrated, empty database has its tables) and
    # load the dump; on any error PostgreSQL rolls it all back.
    tables = connection.introspection.table_names()
    connection.close()
    drop = ["-c", "DROP TABLE IF EXISTS " + ", ".join(map(connection.ops.quote_name, tables)) + " CASCADE"]
    _run_postgres_tool(
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        *(drop if tables else []),
        f"--file={dump}",
        failed="refused to load the backup into (nothing was changed)",
    )


def _place(staged: Path, name: str) -> None:
    target = _local_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.chmod(0o600 if name.startswith(PRIVATE_PLACES) else 0o644)
    try:
        os.replace(staged, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another file system (e.g. STREAMCAT_PLAYBACK_KEY_FILE elsewhere): copy beside it, then rename.
        beside = target.with_name(f".{target.name}.restoring")
        shutil.copy2(staged, beside)
        os.replace(beside, target)
