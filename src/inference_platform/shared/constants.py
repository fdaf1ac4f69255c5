"""Names every part of the platform agrees on.

Not here on purpose: metric namespaces and service names. Each template sets them on its Lambdas
(``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_SERVICE_NAME``) and Powertools reads them.
"""

from __future__ import annotations

ENVIRONMENTS = ("local", "dev", "staging", "production")
# AWS cron and the BusinessDays parameter spell days this way; the index is Python's weekday() (Monday=0).
WEEKDAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
