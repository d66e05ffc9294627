"""First-party Kedai plugins. Each is found through the ``kedai.plugins`` entry point like any
third-party distribution, and imports only ``plugin_sdk``."""
