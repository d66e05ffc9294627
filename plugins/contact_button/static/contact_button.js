/* Kedai contact button: applies the widget's data-* settings (colour, offsets, delay) through
 * the CSSOM, which a Content-Security-Policy allows without 'unsafe-inline', and closes the
 * list on Escape (focus back on the button) or on a click elsewhere. The button itself is a
 * native <details>, usable without this script.
 */
(function () {
  "use strict";
  if (window.KedaiContactButton) { return; }

  function pixels(value) {
    var number = parseInt(value, 10);
    return (isNaN(number) ? 20 : number) + "px";
  }

  function setup(root) {
    if (root.hasAttribute("data-kcb-ready")) { return; }
    root.setAttribute("data-kcb-ready", "");
    root.style.setProperty("--kcb-colour", root.getAttribute("data-colour"));
    root.style.setProperty("--kcb-text", root.getAttribute("data-text-colour"));
    root.style.setProperty("--kcb-x", pixels(root.getAttribute("data-offset-x")));
    root.style.setProperty("--kcb-y", pixels(root.getAttribute("data-offset-y")));
    var delay = parseInt(root.getAttribute("data-delay"), 10) || 0;
    if (root.hidden) {
      window.setTimeout(function () { root.hidden = false; }, delay * 1000);
    }
    var toggle = root.querySelector("summary");
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && root.open) {
        root.open = false;
        toggle.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (root.open && !root.contains(event.target)) { root.open = false; }
    });
  }

  function scan() {
    var buttons = document.querySelectorAll("[data-kedai-contact-button]");
    for (var i = 0; i < buttons.length; i++) { setup(buttons[i]); }
  }

  window.KedaiContactButton = { scan: scan };
  document.addEventListener("kedai:widgets", scan);
  scan();
})();
