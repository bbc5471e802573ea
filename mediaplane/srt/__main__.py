"""`python -m mediaplane.srt`: the SRT gateway, run by the stack as its part "srt"."""

import logging
import os

from mediaplane.srt.gateway import Gateway


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")  # settings only; no ORM here
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Gateway().serve()


if __name__ == "__main__":
    main()
