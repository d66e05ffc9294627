"""Our own floating contact button with several channels (W-03)."""
