"""Counting requests in fixed windows, in Redis, shared by every process.

A limit fails closed: while Redis cannot count, `allow` refuses (and logs why). A
limit that let everything through whenever Redis is down would be no limit to whoever
can take Redis down; what the limits guard (reset mails, PutMetadata) can wait.
Log-in throttling is django-axes, on the database, and does not depend on Redis.
"""

import logging

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def allow(key: str, *, limit: int, window: int) -> bool:
    """Count one request under `key`: False once more than `limit` came within `window`
    seconds of the first, or while Redis cannot count. The window opens and the count
    goes up in one MULTI, so requests at once each get their own count and a counter
    never outlives its window."""
    name = cache.make_and_validate_key(key)
    try:
        pipe = get_redis_connection("default").pipeline(transaction=True)
        pipe.set(name, 0, ex=window, nx=True)
        pipe.incr(name)
        _, count = pipe.execute()
    except RedisError as exc:
        log.warning("rate limit %s refused: cannot count (%s)", key, exc)
        return False
    return count <= limit
