"""auth service: users, credentials, tokens."""
