"""Plugin templates: ``<plugin id>/<name>`` is looked up in that plugin's ``templates/`` folder.

The loader asks the host on every lookup (Jinja caches compiled templates), so a plugin
registered after start-up, as in tests, is found too.
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import BaseLoader, Environment, FileSystemLoader, TemplateNotFound

from core.plugins.manager import host


class PluginTemplateLoader(BaseLoader):
    def get_source(self, environment: Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        plugin_id, _, rest = template.partition("/")
        plugin = host.get(plugin_id)
        if plugin is None or not rest:
            raise TemplateNotFound(template)
        folder = plugin.package_path() / "templates"
        return FileSystemLoader(str(folder)).get_source(environment, template)
