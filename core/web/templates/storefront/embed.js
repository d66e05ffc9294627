/* Kedai storefront embed: mounts the store's plugin widgets into this page.
 *
 *   <script src=".../storefront/<store>/embed.js" data-page="product" async></script>
 *   <div data-kedai-slot="header"></div>
 *
 * Optional: data-shopper-token="…" on the script tag (or window.KedaiShopperToken) for the
 * logged-in shopper; window.Kedai.refresh() re-fetches, e.g. after login or logout.
 * Everything lives inside one closure and touches only elements it creates, so the theme's own
 * scripts and styles are left alone.
 */
(function () {
  "use strict";
  var WIDGETS_URL = {{ widgets_url|tojson }};
  var STORE = {{ store_slug|tojson }};
  var script = document.currentScript;
  var loaded = {};

  function option(name, fallback) {
    var value = script && script.getAttribute("data-" + name);
    return value === null || value === undefined || value === "" ? fallback : value;
  }

  function token() {
    return window.KedaiShopperToken || option("shopper-token", "");
  }

  function loadScript(src) {
    if (loaded[src]) { return; }
    loaded[src] = true;
    var tag = document.createElement("script");
    tag.src = src;
    tag.async = true;
    document.head.appendChild(tag);
  }

  function loadStyle(href) {
    if (loaded[href]) { return; }
    loaded[href] = true;
    var tag = document.createElement("link");
    tag.rel = "stylesheet";
    tag.href = href;
    document.head.appendChild(tag);
  }

  function clear() {
    var old = document.querySelectorAll("[data-kedai-widget]");
    for (var i = 0; i < old.length; i++) { old[i].parentNode.removeChild(old[i]); }
  }

  function container(widget) {
    var box = document.createElement("div");
    box.className = "kedai-widget kedai-widget--" + widget.plugin;
    box.setAttribute("data-kedai-widget", widget.plugin);
    // The HTML was rendered by the plugin's autoescaped template on the server.
    box.innerHTML = widget.html;
    return box;
  }

  function mount(widgets) {
    clear();
    for (var i = 0; i < widgets.length; i++) {
      var widget = widgets[i];
      if (widget.slot === "floating") {
        var box = container(widget);
        box.style.position = "fixed";
        box.style.zIndex = "2147483000";
        document.body.appendChild(box);
      } else {
        var slots = document.querySelectorAll('[data-kedai-slot="' + widget.slot.replace(/"/g, "") + '"]');
        for (var j = 0; j < slots.length; j++) { slots[j].appendChild(container(widget)); }
      }
      (widget.styles || []).forEach(loadStyle);
      (widget.scripts || []).forEach(loadScript);
    }
    document.dispatchEvent(new CustomEvent("kedai:widgets", { detail: { widgets: widgets } }));
  }

  function refresh() {
    var url = WIDGETS_URL + "?page=" + encodeURIComponent(option("page", "*"));
    var locale = option("locale", "");
    if (locale) { url += "&locale=" + encodeURIComponent(locale); }
    var headers = {};
    var bearer = token();
    if (bearer) { headers.Authorization = "Bearer " + bearer; }
    return fetch(url, { headers: headers, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) { throw new Error("Kedai widgets: HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) { mount(body.widgets || []); })
      .catch(function (error) { if (window.console) { console.warn(error); } });
  }

  window.Kedai = { store: STORE, refresh: refresh };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
