"""Where recordings go: the bucket of a recording or storage configuration is a folder
under STORAGE_DIR (served at /recordings/), and also the real S3 bucket of that name
when STREAMCAT_RECORDING_STORAGE=s3 (django-storages, AWS credentials as for boto3)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage


@functools.cache
def bucket_storage(bucket: str) -> Storage:
    if settings.RECORDING_STORAGE == "s3":
        from storages.backends.s3 import S3Storage

        return S3Storage(bucket_name=bucket, file_overwrite=True, region_name=settings.AWS_REGION)
    return FileSystemStorage(location=settings.STORAGE_DIR / bucket)


def publish(*, bucket: str, prefix: str, folder: Path) -> list[str]:
    """Copy a finished recording (every file under `folder`) to its S3 bucket under
    `prefix`; the local folder already is the bucket otherwise. Returns the keys written."""
    if settings.RECORDING_STORAGE != "s3":
        return []
    storage = bucket_storage(bucket)
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as content:
            keys.append(storage.save(f"{prefix}/{path.relative_to(folder).as_posix()}", File(content)))
    return keys
