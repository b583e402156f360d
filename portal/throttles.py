"""API rate limits: per user (a token or a session) and per address for anonymous calls; past it a 429 with Retry-After.

The rates are read at each request rather than bound when DRF's classes are imported, so a setting change applies.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class ApiUserThrottle(UserRateThrottle):
    def get_rate(self) -> str:
        return settings.BERTH_API_RATE_USER


class ApiAnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str:
        return settings.BERTH_API_RATE_ANON
