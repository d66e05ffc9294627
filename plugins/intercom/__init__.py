"""Intercom Messenger on the storefront (W-02)."""
