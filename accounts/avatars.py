"""Profile pictures: turning an upload into pixels only, and keeping exactly one file
per user on disk."""

from __future__ import annotations

import io
import struct
import threading
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageOps

from accounts.models import Profile, avatar_folder, avatar_path

AVATAR_SIZE = 256
AVATAR_MAX_BYTES = 5 * 1024 * 1024
# Pixels decoded at most, counted after a JPEG's reduced-scale decoding (draft): a 12 MP
# phone photo fits, and a picture this big still costs only ~1 s and ~110 MB to decode.
AVATAR_MAX_PIXELS = 16_000_000
AVATAR_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# Every error Pillow raises on a broken or hostile file, opening or decoding it.
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)
# At most two decodes at once per process, so a burst of uploads cannot add up memory.
_decoding = threading.BoundedSemaphore(2)


class PictureError(Exception):
    """The upload is not a picture we accept; the message says why, for the form."""


def square_jpeg(upload) -> ContentFile:
    """The upload's pixels as an AVATAR_SIZE² JPEG, centre-cropped and upright. Nothing
    else survives: no EXIF, comments, ICC/XMP profiles or text chunks. Pictures larger
    than AVATAR_MAX_BYTES or AVATAR_MAX_PIXELS are refused before any pixel is decoded."""
    if upload.size > AVATAR_MAX_BYTES:
        raise PictureError("The picture is larger than 5 MB.")
    try:
        with Image.open(upload, formats=AVATAR_FORMATS) as image:
            # JPEGs decode at 1/2 to 1/8 scale when that is still big enough.
            image.draft("RGB", (AVATAR_SIZE * 2, AVATAR_SIZE * 2))
            if image.width * image.height > AVATAR_MAX_PIXELS:
                raise PictureError(f"The picture is too large ({image.width}×{image.height}); use at most 4000×4000.")
            with _decoding:
                picture = image.convert("RGB")
                ImageOps.exif_transpose(picture, in_place=True)  # EXIF goes: keep the photo upright
                picture = ImageOps.fit(picture, (AVATAR_SIZE, AVATAR_SIZE))
    except _UNREADABLE:
        raise PictureError("This file is not a picture we can read (JPEG, PNG, GIF or WebP).") from None
    return ContentFile(_pixels_only_jpeg(picture), name="avatar.jpg")


def _pixels_only_jpeg(picture: Image.Image) -> bytes:
    # A new image from the raw pixels carries no `info`: Pillow would otherwise write the
    # source's comment (and whatever else it kept) into the JPEG it saves.
    clean = Image.frombytes("RGB", picture.size, picture.tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=88)
    return out.getvalue()


def avatar_replace(*, user, picture: ContentFile | None) -> None:
    """Make `picture` the user's picture (None: no picture). Safe to race: each picture
    is stored under a new name, the profile row is locked while its name changes, and
    the file it replaced is deleted once that change is committed; whoever wins, exactly
    one file is left, and it is the one the profile names."""
    profile, _ = Profile.objects.get_or_create(user=user)
    storage = profile.avatar.storage
    stored = storage.save(avatar_path(profile, "avatar.jpg"), picture) if picture else ""
    try:
        with transaction.atomic():
            replaced = Profile.objects.select_for_update().values_list("avatar", flat=True).get(pk=profile.pk)
            Profile.objects.filter(pk=profile.pk).update(avatar=stored)
            if replaced:
                transaction.on_commit(partial(storage.delete, replaced))
    except BaseException:
        # The profile never named it (deleted meanwhile, database error): no orphan.
        if stored:
            storage.delete(stored)
        raise


def avatar_delete_all(*, user) -> None:
    """Delete every picture file of the user's: the one the profile names and anything
    else in their folder."""
    profile = Profile.objects.filter(user=user).first()
    if profile and profile.avatar:
        profile.avatar.delete(save=False)
    storage = Profile._meta.get_field("avatar").storage
    folder = avatar_folder(user.pk)
    if storage.exists(folder):
        for name in storage.listdir(folder)[1]:
            storage.delete(folder + name)
