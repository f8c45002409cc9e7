"""What a committed secret looks like, shared by the manifest checks (check_compose.py,
check_k8s.py): names that hold secrets, and values that are secrets whatever their name."""

from __future__ import annotations

import re

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|_PASS$|SECRET|TOKEN|PRIVATE|CREDENTIAL|_KEY$|^KEY$|DSN)", re.I
)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\b(sk|rk)_(live|test)_[0-9A-Za-z]{8,}"  # Stripe API keys
    r"|\bwhsec_[0-9A-Za-z]{8,}"  # Stripe webhook secrets
    r"|\bAIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\b(AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
)
URL_CREDENTIALS = re.compile(r"://[^/\s:@]*:([^/\s@]+)@")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
