"""tawk.to live chat on the storefront (W-01)."""
