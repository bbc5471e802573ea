"""A private runtime folder and ports for a benchmark, set before Django loads."""

import atexit
import os
import shutil
import tempfile


def isolate(prefix: str, port_base: int) -> str:
    var_dir = tempfile.mkdtemp(prefix=f"streamcat-bench-{prefix}-")
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ["STREAMCAT_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)
    for offset, name in enumerate(
        ["STREAMCAT_HTTP_PORT", "STREAMCAT_APP_PORT", "STREAMCAT_NGINX_CONTROL_PORT", "STREAMCAT_REDIS_PORT"]
    ):
        os.environ[name] = str(port_base + offset)
    os.environ["STREAMCAT_RTMP_PORT"] = str(port_base + 35)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")
    return var_dir
