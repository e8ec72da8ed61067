"""A fast check of plain email addresses, giving the same verdict as the API's check.

email-validator costs about 120 µs per address here, more than everything else an
import does with a row; most of it is the domain's checks, and an import's addresses
share a few domains. So an address made of plain ASCII (a dot-atom local part, letters,
digits and hyphens in the domain) is checked by a pattern and its domain's verdict is
remembered; anything else goes to `address_problem` itself. tests/imports/test_rows.py
compares the two on generated addresses.
"""

from __future__ import annotations

import re
from functools import lru_cache

from app.input_reader import address_problem

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
MAX_LOCAL = 64  # RFC 5321, as email-validator enforces
MAX_ADDRESS = 254


@lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    return address_problem(f"a@{domain}") is None


def plainly_valid(address: str) -> bool:
    """True only for addresses `address_problem` accepts; False means "ask it"."""
    match = _PLAIN.fullmatch(address)
    return (
        match is not None
        and len(match.group(1)) <= MAX_LOCAL
        and len(address) <= MAX_ADDRESS
        and _domain_ok(match.group(2).lower())
    )
