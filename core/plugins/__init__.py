"""The plugin host: hookspecs, loading, per-store installations and views, event delivery,
settings pages, the marketplace and storefront embedding."""
