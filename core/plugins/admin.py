"""The admin marketplace (P-01 to P-03, P-05): browse and search the catalogue, a plugin's
page with its permissions and requirements, install with consent, the settings page generated
from the plugin's schema, enable and disable, re-consent after an upgrade, the health page and
uninstall.

Views read the form, call ``core.plugins.service`` and commit when it succeeds; a domain error
rolls back and is shown as a message, or next to its field. Any staff member may browse and
read a plugin's health; owners change installations. Everything is read for the staff
member's own store: another store's installations are never looked at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from marshmallow import fields as mfields
from marshmallow import validate
from marshmallow.utils import missing
from werkzeug.wrappers import Response

from core.db import db, writing
from core.errors import KedaiError, NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.plugins import catalogue, service
from core.plugins.catalogue import Listing
from core.plugins.manager import host
from core.plugins.models import PluginInstallation
from core.stores.models import Store
from core.web.admin_helpers import current_store, owner_required, staff_actor
from plugin_sdk.errors import SettingsInvalid
from plugin_sdk.plugin import CATEGORIES, PERMISSIONS, Plugin
from plugin_sdk.settings import secret_fields

log = logging.getLogger("kedai.plugins")
bp = Blueprint("plugins_admin", __name__, url_prefix="/admin/marketplace")

#: How many deliveries and errors the health page shows.
HEALTH_ROWS = 50

#: Shown when a stored secret does not decrypt: the secret key changed without the old one
#: being kept in ``KEDAI_OLD_SECRET_KEYS``.
UNREADABLE_SECRET = _l(
    "A stored secret of this plugin can no longer be read, so its settings cannot be saved. "
    "Ask the operator to restore the previous secret key."
)


# --- what the pages show ---------------------------------------------------------------------


def locale_name() -> str:
    """The staff member's locale as Babel names it (``en``, ``zh_Hant`` …)."""
    return str(get_locale() or "en")


def category_label(category: str) -> str:
    return _(CATEGORIES[category]) if category in CATEGORIES else category


def permission_text(permission: str) -> str:
    """A permission in the merchant's words."""
    return _(PERMISSIONS[permission]) if permission in PERMISSIONS else permission


@dataclass
class PluginState:
    """What the marketplace says about one listing in the current store."""

    listing: Listing
    installation: PluginInstallation | None
    #: Why the stored settings do not validate, per field (empty when configured).
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.listing.id

    @property
    def plugin(self) -> Plugin | None:
        return self.listing.plugin

    @property
    def installed(self) -> bool:
        return self.installation is not None

    @property
    def status(self) -> str:
        return self.installation.status if self.installation is not None else ""

    def text(self, attribute: str) -> str:
        return self.listing.manifest.text(attribute, locale_name())

    @property
    def awaiting_consent(self) -> bool:
        """An upgrade asked for permissions the merchant has not agreed to yet."""
        return self.installation is not None and self.installation.pending_permissions is not None

    @property
    def new_permissions(self) -> list[str]:
        """Permissions an upgrade asks for that the merchant has not granted yet."""
        if self.installation is None or self.installation.pending_permissions is None:
            return []
        granted = set(self.installation.granted_permissions or ())
        return [p for p in self.installation.pending_permissions if p not in granted]

    @property
    def badges(self) -> list[tuple[str, str]]:
        """``(bootstrap colour, label)`` pairs describing the listing's state."""
        badges = []
        if not self.listing.available:
            badges.append(("secondary", _("Not available")))
        if self.installation is None:
            return badges
        badges.append(("primary", _("Installed")))
        if self.status == "enabled":
            badges.append(("success", _("Enabled")))
        elif self.status == "suspended":
            badges.append(("danger", _("Suspended")))
        else:
            badges.append(("secondary", _("Disabled")))
        if self.problems:
            badges.append(("warning", _("Needs configuration")))
        if self.awaiting_consent:
            badges.append(("info", _("Awaiting consent")))
        return badges


def _problems(plugin: Plugin, installation: PluginInstallation) -> dict[str, list[str]]:
    """What stops the stored settings from validating, without letting a failure to check
    them break the page."""
    try:
        return service.settings_problems(plugin, installation)
    except ValueError:  # a secret that no longer decrypts: it must be entered again
        return {"settings": [str(UNREADABLE_SECRET)]}
    except Exception:  # the plugin's own code (a validator, migrate_settings) raised
        log.exception("settings of %s could not be checked", plugin.id)
        return {"settings": [_("The plugin could not check its settings.")]}


def _state(listing: Listing, installations: dict[str, PluginInstallation]) -> PluginState:
    installation = installations.get(listing.id)
    problems: dict[str, list[str]] = {}
    if installation is not None and listing.plugin is not None:
        problems = _problems(listing.plugin, installation)
    return PluginState(listing, installation, problems)


def _installations(store: Store) -> dict[str, PluginInstallation]:
    return {row.plugin_id: row for row in service.installations(store)}


def _notice_upgrades(store: Store) -> None:
    """Record upgraded plugins (a wider permission set then waits for consent). Only when
    there is something to record does the GET open a writing transaction."""
    if not service.upgrades_to_record(store):
        return
    with writing():
        db.session.rollback()
        service.reconcile(store)
        db.session.commit()


def _listing_or_404(plugin_id: str) -> Listing:
    listing = catalogue.listings().get(plugin_id)
    if listing is None:
        abort(404)
    return listing


def _installation_or_404(plugin_id: str) -> PluginInstallation:
    """The plugin's installation in the current store; another store's is as absent as none."""
    try:
        return service.get_installation(current_store(), plugin_id)
    except NotFound:
        abort(404)


def _plugin_or_404(plugin_id: str) -> Plugin:
    plugin = host.get(plugin_id)
    if plugin is None:
        abort(404)
    return plugin


def display_name(plugin_id: str) -> str:
    """The plugin's name in the staff member's language (its id when it is gone)."""
    listing = catalogue.listings().get(plugin_id)
    if listing is not None:
        return listing.manifest.text("name", locale_name())
    plugin = host.get(plugin_id)
    return plugin.name if plugin is not None else plugin_id


def _matches(state: PluginState, query: str) -> bool:
    """Search over the name and description in the staff member's language and in English."""
    manifest = state.listing.manifest
    haystack = " ".join(
        [
            state.id,
            state.text("name"),
            state.text("description"),
            manifest.text("name", "en"),
            manifest.text("description", "en"),
        ]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def _back_to_detail(plugin_id: str) -> Response:
    return redirect(url_for(".detail", plugin_id=plugin_id))


def _refused(error: KedaiError, plugin_id: str) -> Response:
    db.session.rollback()
    flash(error.message, "danger")
    return _back_to_detail(plugin_id)


# --- browsing --------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    """Every listing, narrowed by ``?category=`` and ``?q=``, with its state in this store."""
    store = current_store()
    _notice_upgrades(store)
    category = request.args.get("category", "")
    query = request.args.get("q", "").strip()
    installations = _installations(store)
    states = [_state(listing, installations) for listing in catalogue.listings().values()]
    shown = [
        state
        for state in states
        if (not category or state.listing.manifest.category == category)
        and (not query or _matches(state, query))
    ]
    failed = sorted(host.failed.items()) if current_user.is_owner else []
    listed = {state.id for state in states}
    # Installed here, but the environment no longer provides them: still health and uninstall.
    missing = [row for plugin_id, row in installations.items() if plugin_id not in listed]
    return render_template(
        "plugins/index.html",
        states=shown,
        missing=missing,
        total=len(states),
        categories=[(key, category_label(key)) for key in CATEGORIES],
        category=category,
        query=query,
        failed=failed,
        category_label=category_label,
    )


@bp.get("/<plugin_id>")
@login_required
def detail(plugin_id: str) -> str:
    """One plugin: what it does and asks for, and what can be done with it here."""
    store = current_store()
    _notice_upgrades(store)
    return _render_detail(store, _listing_or_404(plugin_id))


def _render_detail(store: Store, listing: Listing, *, consent_error: str = "") -> str:
    installations = _installations(store)
    state = _state(listing, installations)
    requirements = []
    for required in listing.manifest.requires:
        other = catalogue.listings().get(required)
        name = other.manifest.text("name", locale_name()) if other else required
        row = installations.get(required)
        requirements.append((required, name, row.status if row is not None else ""))
    return render_template(
        "plugins/detail.html",
        state=state,
        manifest=listing.manifest,
        requirements=requirements,
        category_label=category_label,
        permission_text=permission_text,
        consent_error=consent_error,
    )


# --- installing and the lifecycle ------------------------------------------------------------


@bp.post("/<plugin_id>/install")
@owner_required
def install(plugin_id: str) -> Any:
    """Install (disabled) after the owner ticked the consent box listing the permissions."""
    store = current_store()
    listing = _listing_or_404(plugin_id)
    if not listing.available:
        flash(_("This plugin is not available in this Kedai."), "danger")
        return _back_to_detail(plugin_id)
    try:
        service.install(
            store, plugin_id, consent=request.form.get("consent") == "yes", actor=staff_actor()
        )
    except KedaiError as error:
        db.session.rollback()
        if error.field == "consent":
            return _render_detail(store, listing, consent_error=error.message)
        flash(error.message, "danger")
        return _back_to_detail(plugin_id)
    db.session.commit()
    plugin = listing.plugin
    if plugin is not None and plugin.settings_schema is not None:
        flash(
            _(
                "%(name)s is installed. Configure it, then enable it.",
                name=listing.manifest.text("name", locale_name()),
            ),
            "success",
        )
        return redirect(url_for(".settings", plugin_id=plugin_id))
    flash(
        _(
            "%(name)s is installed. Enable it when you are ready.",
            name=listing.manifest.text("name", locale_name()),
        ),
        "success",
    )
    return _back_to_detail(plugin_id)


@bp.post("/<plugin_id>/enable")
@owner_required
def enable(plugin_id: str) -> Response:
    """Enable, or lift a suspension; refused with the reason while requirements are not
    enabled or the settings do not validate."""
    store = current_store()
    _installation_or_404(plugin_id)
    try:
        service.enable(store, plugin_id, actor=staff_actor())
    except KedaiError as error:
        return _refused(error, plugin_id)
    db.session.commit()
    flash(_("%(name)s is enabled.", name=display_name(plugin_id)), "success")
    return _back_to_detail(plugin_id)


@bp.post("/<plugin_id>/disable")
@owner_required
def disable(plugin_id: str) -> Response:
    """Disable; its settings and data stay."""
    store = current_store()
    _installation_or_404(plugin_id)
    try:
        service.disable(store, plugin_id, actor=staff_actor())
    except KedaiError as error:
        return _refused(error, plugin_id)
    db.session.commit()
    flash(
        _("%(name)s is disabled. Its settings and data are kept.", name=display_name(plugin_id)),
        "success",
    )
    return _back_to_detail(plugin_id)


@bp.post("/<plugin_id>/consent")
@owner_required
def consent(plugin_id: str) -> Response:
    """Grant the permissions an upgraded plugin asks for."""
    store = current_store()
    _installation_or_404(plugin_id)
    if request.form.get("consent") != "yes":
        flash(_("Tick the box to agree to the new permissions."), "danger")
        return _back_to_detail(plugin_id)
    try:
        service.grant_pending_permissions(store, plugin_id, actor=staff_actor())
    except KedaiError as error:
        return _refused(error, plugin_id)
    db.session.commit()
    flash(
        _("%(name)s now has the permissions it asked for.", name=display_name(plugin_id)), "success"
    )
    return _back_to_detail(plugin_id)


@bp.route("/<plugin_id>/uninstall", methods=["GET", "POST"])
@owner_required
def uninstall(plugin_id: str) -> Any:
    """Ask first (what will be deleted), then uninstall with the owner's confirmation."""
    store = current_store()
    installation = _installation_or_404(plugin_id)
    name = display_name(plugin_id)
    error = ""
    if request.method == "POST":
        try:
            service.uninstall(
                store, plugin_id, confirm=request.form.get("confirm") == "yes", actor=staff_actor()
            )
        except KedaiError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(
                _("%(name)s is uninstalled and its data in this store deleted.", name=name),
                "success",
            )
            if plugin_id in catalogue.listings():
                return _back_to_detail(plugin_id)
            return redirect(url_for(".index"))
    return render_template(
        "plugins/uninstall.html",
        plugin_id=plugin_id,
        name=name,
        installation=installation,
        error=error,
        listed=plugin_id in catalogue.listings(),
    )


# --- settings --------------------------------------------------------------------------------


@dataclass
class SettingField:
    """One input of the generated settings page."""

    name: str
    label: str
    help: str
    widget: str
    required: bool
    advanced: bool
    placeholder: str = ""
    value: Any = None
    #: For a secret: whether a value is stored (the value itself never reaches the page).
    stored: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    minimum: Any = None
    maximum: Any = None
    step: str = "any"
    errors: list[str] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return f"setting-{self.name}"


_NUMBER_FIELDS = (mfields.Integer, mfields.Float, mfields.Decimal)


def _widget(schema_field: mfields.Field, one_of: validate.OneOf | None) -> str:
    """The input kind: an explicit textarea, secret, colour or toggle wins; then a ``OneOf``
    makes a select; then the field type (booleans toggle, numbers are numbers)."""
    declared = schema_field.metadata.get("widget", "")
    if schema_field.metadata.get("secret"):
        return "secret"
    if declared in ("textarea", "secret", "color", "toggle"):
        return declared
    if one_of is not None or declared == "select":
        return "select"
    if isinstance(schema_field, mfields.Boolean):
        return "toggle"
    if isinstance(schema_field, _NUMBER_FIELDS):
        return "number"
    if isinstance(schema_field, mfields.Email):
        return "email"
    if isinstance(schema_field, mfields.Url):
        return "url"
    return "text"


def _setting_fields(plugin: Plugin, current: dict[str, Any]) -> list[SettingField]:
    """The inputs of the settings page, in the schema's order, with ``current`` values."""
    assert plugin.settings_schema is not None
    schema = plugin.settings_schema()
    hidden = secret_fields(schema)
    inputs = []
    for attribute, schema_field in schema.fields.items():
        if schema_field.dump_only:
            continue
        name = schema_field.data_key or attribute
        one_of = next((v for v in schema_field.validators if isinstance(v, validate.OneOf)), None)
        bounds = next((v for v in schema_field.validators if isinstance(v, validate.Range)), None)
        widget = _widget(schema_field, one_of)
        meta = schema_field.metadata
        item = SettingField(
            name=name,
            label=str(meta.get("label") or attribute.replace("_", " ").capitalize()),
            help=str(meta.get("help") or ""),
            widget=widget,
            required=schema_field.required,
            advanced=bool(meta.get("advanced")),
            placeholder=str(meta.get("placeholder") or ""),
        )
        if attribute in hidden or widget == "secret":
            item.stored = bool(current.get(attribute))
        else:
            item.value = current.get(attribute)
        if one_of is not None:
            item.choices = [
                (str(value), str(label or value))
                for value, label in one_of.options(valuegetter=str)
            ]
            if not item.required and schema_field.load_default is missing:
                item.choices.insert(0, ("", "—"))
        if widget == "number":
            item.step = "1" if isinstance(schema_field, mfields.Integer) else "any"
            if bounds is not None:
                item.minimum, item.maximum = bounds.min, bounds.max
        inputs.append(item)
    return inputs


def _submitted(inputs: list[SettingField]) -> dict[str, Any]:
    """The posted form as the schema loads it.

    An unticked box is ``False``. A blank secret is left out, which the service reads as "keep
    the stored one" (and the schema as missing when none is stored). Any other blank input is
    left out when the field is required (so the schema says it is missing) or is a number,
    choice or colour (so the schema's default applies); an optional text is kept blank, which
    is how a merchant clears it.
    """
    values: dict[str, Any] = {}
    for item in inputs:
        if item.widget == "toggle":
            values[item.name] = request.form.get(item.name) in ("on", "true", "1", "yes")
            continue
        raw = request.form.get(item.name, "")
        if raw.strip() == "" and (
            item.widget in ("secret", "number", "select", "color") or item.required
        ):
            continue
        values[item.name] = raw
    return values


def _echo(
    inputs: list[SettingField], submitted: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """Put the submitted values (never a secret) and the errors back on the inputs."""
    for item in inputs:
        item.errors = list(errors.get(item.name, []))
        if item.widget != "secret" and item.name in submitted:
            item.value = submitted[item.name]


@bp.route("/<plugin_id>/settings", methods=["GET", "POST"])
@owner_required
def settings(plugin_id: str) -> Any:
    """The settings page generated from the plugin's schema; errors next to their fields."""
    store = current_store()
    installation = _installation_or_404(plugin_id)
    plugin = _plugin_or_404(plugin_id)
    page = {
        "plugin_id": plugin_id,
        "name": display_name(plugin_id),
        "installation": installation,
        "number_text": _number_text,
    }
    if plugin.settings_schema is None:
        return render_template(
            "plugins/settings.html",
            inputs=[],
            other_errors=[],
            configured=True,
            advanced_errors=False,
            **page,
        )
    other_errors: list[str] = []
    try:
        stored = service.decrypted_settings(plugin, installation)
    except ValueError:  # a secret that no longer decrypts (the key changed): show the rest
        hidden = secret_fields(plugin.settings_schema)
        stored = {k: v for k, v in (installation.settings or {}).items() if k not in hidden}
        other_errors.append(UNREADABLE_SECRET)
    inputs = _setting_fields(plugin, service.effective_settings(plugin, stored))
    if request.method == "POST":
        submitted = _submitted(inputs)
        try:
            service.save_settings(store, plugin_id, submitted, actor=staff_actor())
        except SettingsInvalid as invalid:
            db.session.rollback()
            _echo(inputs, submitted, invalid.errors)
            names = {item.name for item in inputs}
            other_errors = [
                f"{key}: {' '.join(messages)}"
                for key, messages in invalid.errors.items()
                if key not in names
            ]
        except KedaiError as error:
            return _refused(error, plugin_id)
        except ValueError:  # the service could not read a stored secret either
            db.session.rollback()
            other_errors = [UNREADABLE_SECRET]
        else:
            db.session.commit()
            flash(_("Settings of %(name)s saved.", name=page["name"]), "success")
            return _back_to_detail(plugin_id)
    return render_template(
        "plugins/settings.html",
        inputs=inputs,
        other_errors=other_errors,
        configured=not other_errors and not _problems(plugin, installation),
        advanced_errors=any(item.advanced and item.errors for item in inputs),
        **page,
    )


def _number_text(value: Any) -> str:
    """A number as the ``value`` of a number input (no exponent, no trailing ``.0``)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    return str(value)


# --- health ----------------------------------------------------------------------------------


@bp.get("/<plugin_id>/health")
@login_required
def health(plugin_id: str) -> str:
    """Status, suspension, recent deliveries and request-time errors of one plugin."""
    store = current_store()
    installation = _installation_or_404(plugin_id)
    return render_template(
        "plugins/health.html",
        plugin_id=plugin_id,
        name=display_name(plugin_id),
        listed=plugin_id in catalogue.listings(),
        installation=installation,
        deliveries=service.recent_deliveries(store, plugin_id, HEALTH_ROWS),
        errors=service.recent_errors(store, plugin_id, HEALTH_ROWS),
    )


@bp.post("/<plugin_id>/deliveries/<int:delivery_id>/retry")
@login_required
def retry(plugin_id: str, delivery_id: int) -> Response:
    """Send a failed delivery again on the executor's next pass (once the plugin is enabled)."""
    store = current_store()
    _installation_or_404(plugin_id)
    try:
        service.retry_failed_delivery(store, plugin_id, delivery_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    except KedaiError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(_("Delivery %(id)s will be retried shortly.", id=delivery_id), "success")
    return redirect(url_for(".health", plugin_id=plugin_id))
