"""What the people service refuses, and the limits it enforces."""

from __future__ import annotations

import re

FIELD_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
MAX_EMAIL = 254
MAX_TAG = 100
MAX_PLACE = 200  # country, region, city, time zone
MAX_EVENT_NAME = 200
MAX_STRING = 1000
MAX_FIELDS = 200
MAX_IDEMPOTENCY_KEY = 255
