"""The core's tests use the SDK's harness (``plugin_sdk.testing``, loaded as a pytest plugin
through its ``pytest11`` entry point) exactly as a plugin author would."""

from plugin_sdk.testing import (  # noqa: F401 - helpers the tests import from here
    STAFF_PASSWORD,
    api_token,
    csrf_token,
    events_of,
    make_staff,
    make_store,
)
