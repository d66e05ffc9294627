"""The pluggy markers of the ``kedai`` project."""

import pluggy

PROJECT = "kedai"

#: Mark a plugin method as the implementation of the hook of the same name.
hookimpl = pluggy.HookimplMarker(PROJECT)
#: Used by the host to declare hooks; plugins don't need it.
hookspec = pluggy.HookspecMarker(PROJECT)
