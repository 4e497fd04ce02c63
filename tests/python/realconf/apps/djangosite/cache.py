"""A local-memory cache that notes each close() in $REALCONF_OUT/caches-closed
(one pid a line), so that a test sees the post_fork hooks that close the
caches run in each worker."""

import os

from django.core.cache.backends.locmem import LocMemCache


class MarkedCache(LocMemCache):
    def close(self, **kwargs):
        out = os.environ.get("REALCONF_OUT")
        if out:
            with open(os.path.join(out, "caches-closed"), "a") as f:
                f.write("%d\n" % os.getpid())
