"""`python -m mediaplane.transcode`: the transcoder, run by the stack as its part "transcode"."""

import logging
import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")
    django.setup()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mediaplane.transcode.manager import Manager

    Manager().serve()


if __name__ == "__main__":
    main()
