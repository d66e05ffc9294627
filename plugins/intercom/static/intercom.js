/* Kedai × Intercom: loads the Intercom Messenger with the configuration the intercom plugin
 * rendered as a JSON block (<script type="application/json" data-kedai-intercom>). No inline
 * code, so a Content-Security-Policy needs only this file's origin and Intercom's hosts.
 *
 * Runs when loaded and again on every "kedai:widgets" event (Kedai.refresh() after a login or
 * a logout): when the shopper changes, the Messenger is shut down (Intercom('shutdown') clears
 * the previous shopper's conversations from this browser) and booted again for the new one; at
 * an address where it should not show, it is shut down.
 */
(function () {
  "use strict";
  if (window.KedaiIntercom) { return; }
  var state = { loaded: false, booted: false, userId: null };

  function config() {
    var node = document.querySelector('script[type="application/json"][data-kedai-intercom]');
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

  function intercom() {
    // Intercom's documented queue: calls made before the script arrives are replayed by it.
    if (typeof window.Intercom !== "function") {
      var queued = function () { queued.c(arguments); };
      queued.q = [];
      queued.c = function (args) { queued.q.push(args); };
      window.Intercom = queued;
    }
    return window.Intercom;
  }

  function load(settings) {
    window.intercomSettings = settings.settings;
    intercom();
    var tag = document.createElement("script");
    tag.async = true;
    tag.src = settings.src;
    tag.setAttribute("data-kedai-intercom-embed", "");
    document.head.appendChild(tag);
    state.loaded = state.booted = true;
    state.userId = settings.settings.user_id || null;
  }

  function shutdown() {
    if (state.booted) { intercom()("shutdown"); }
    state.booted = false;
    state.userId = null;
  }

  function apply() {
    var settings = config();
    if (settings === null || !allowed(settings, window.location.pathname)) {
      shutdown();
      return;
    }
    if (!state.loaded) { load(settings); return; }
    var wanted = settings.settings.user_id || null;
    if (state.booted && wanted === state.userId) { return; }
    shutdown();
    window.intercomSettings = settings.settings;
    intercom()("boot", settings.settings);
    state.booted = true;
    state.userId = wanted;
  }

  window.KedaiIntercom = { apply: apply, allowed: allowed };
  document.addEventListener("kedai:widgets", apply);
  apply();
})();
