/* Kedai × tawk.to: loads the tawk.to widget with the configuration the tawkto plugin rendered
 * as a JSON block (<script type="application/json" data-kedai-tawkto>). No inline code, so a
 * Content-Security-Policy needs only this file's origin and https://embed.tawk.to.
 *
 * Runs when loaded and again on every "kedai:widgets" event (Kedai.refresh() after a login or
 * a logout): a shopper who logged in is passed to Tawk_API.login, one who logged out ends the
 * tawk.to session with Tawk_API.logout, and the widget hides where it should not show.
 */
(function () {
  "use strict";
  if (window.KedaiTawkto) { return; }
  var state = { loaded: false, userId: null };

  function config() {
    var node = document.querySelector('script[type="application/json"][data-kedai-tawkto]');
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  function pattern(text) {
    var source = text.split("*").map(function (part) {
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }).join(".*");
    return new RegExp("^" + source + "$");
  }

  function matches(patterns, path) {
    for (var i = 0; i < (patterns || []).length; i++) {
      if (pattern(patterns[i]).test(path)) { return true; }
    }
    return false;
  }

  function allowed(settings, path) {
    if (settings.include && settings.include.length && !matches(settings.include, path)) {
      return false;
    }
    return !matches(settings.exclude, path);
  }

  function api() {
    window.Tawk_API = window.Tawk_API || {};
    return window.Tawk_API;
  }

  function load(settings) {
    var tawk = api();
    if (settings.visitor) { tawk.visitor = settings.visitor; }
    window.Tawk_LoadStart = new Date();
    var tag = document.createElement("script");
    tag.async = true;
    tag.src = settings.src;
    tag.charset = "UTF-8";
    tag.setAttribute("crossorigin", "*");
    tag.setAttribute("data-kedai-tawkto-embed", "");
    document.head.appendChild(tag);
    state.loaded = true;
    state.userId = settings.login ? settings.login.userId : null;
  }

  function follow(settings) {
    // The script is already on the page: keep the tawk.to session in step with the shopper.
    var tawk = api();
    var wanted = settings && settings.login ? settings.login.userId : null;
    if (wanted === state.userId) { return; }
    if (state.userId !== null && typeof tawk.logout === "function") { tawk.logout(function () {}); }
    if (wanted !== null && typeof tawk.login === "function") { tawk.login(settings.login, function () {}); }
    state.userId = wanted;
  }

  function apply() {
    var settings = config();
    var show = settings !== null && allowed(settings, window.location.pathname);
    var tawk = api();
    if (!show) {
      follow(null);
      if (state.loaded && typeof tawk.hideWidget === "function") { tawk.hideWidget(); }
      return;
    }
    if (!state.loaded) { load(settings); return; }
    follow(settings);
    if (typeof tawk.showWidget === "function") { tawk.showWidget(); }
  }

  window.KedaiTawkto = { apply: apply, allowed: allowed };
  document.addEventListener("kedai:widgets", apply);
  apply();
})();
