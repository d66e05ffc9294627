"""Kedai core: stores, customers, orders, the event log and the plugin host."""

__version__ = "0.1.0"
