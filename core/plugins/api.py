"""REST endpoint listing the plugins a store has installed (read-only)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from core.api import ApiBlueprint, current_store
from core.plugins import service

blp = ApiBlueprint("plugins_api", __name__, description="The store's plugins")


class InstalledPluginSchema(Schema):
    plugin_id = fields.Str(required=True)
    version = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "enabled, disabled, suspended …"})
    granted_permissions = fields.List(fields.Str(), required=True)
    installed_at = fields.DateTime(required=True)


class InstalledPluginListSchema(Schema):
    items = fields.List(fields.Nested(InstalledPluginSchema), required=True)


@blp.route("/plugins")
class Plugins(MethodView):
    @blp.requires("plugins:read")
    @blp.response(200, InstalledPluginListSchema)
    def get(self) -> dict[str, Any]:
        """List the store's installed plugins (settings are not included)"""
        return {"items": service.installations(current_store())}
