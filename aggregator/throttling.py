"""DRF's rate throttles, counted in one Redis round trip.

DRF keeps each caller's window as a pickled list of request times that it
reads and writes back on every request: two round trips, and a list that
grows with the rate. On Redis these count in a sorted set through one Lua
call (aggregator.cache.sliding_window_hit) with the same sliding window and
the same rates; on the local-memory cache they are DRF's own. When Redis is
down the request is let through, as DRF's does when the cache ignores errors.
"""

from rest_framework import throttling

from aggregator import cache


class OneRoundTripMixin:
    def allow_request(self, request, view):
        if not cache._is_redis():
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Its own key: DRF's pickled list under self.key (left by a previous
        # release, or a process on the local cache) is not a sorted set.
        answer = cache.sliding_window_hit(f"{self.key}:window", self.now, self.duration, self.num_requests)
        if answer is None:
            return True
        allowed, self._oldest = answer
        return allowed

    def wait(self):
        if not cache._is_redis():
            return super().wait()
        # Refused only when the window is full: the oldest request leaving
        # it frees the next slot.
        return max(0.0, self.duration - (self.now - self._oldest))


class AnonRateThrottle(OneRoundTripMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(OneRoundTripMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(OneRoundTripMixin, throttling.ScopedRateThrottle):
    def allow_request(self, request, view):
        if cache._is_redis():
            # DRF's ScopedRateThrottle learns its scope and rate from the view
            # in its own allow_request, which the mixin replaces on Redis.
            self.scope = getattr(view, self.scope_attr, None)
            if not self.scope:
                return True
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
