"""What the people service refuses, and the limits it enforces."""

from __future__ import annotations

# field and property keys follow app.input_reader.KEY_PATTERN
MAX_EMAIL = 254
MAX_TAG = 100
MAX_PLACE = 200  # country, region, city, time zone
MAX_EVENT_NAME = 200
MAX_STRING = 1000
MAX_FIELDS = 200
MAX_IDEMPOTENCY_KEY = 255
