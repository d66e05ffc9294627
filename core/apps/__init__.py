"""External apps: OAuth 2 clients a merchant installs in a store (P-07)."""
