"""Tests of the first-party plugins."""
