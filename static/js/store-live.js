// Store dashboard: small enhancements on top of server-rendered pages and htmx polling.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });
  // The order page polls its status panel; when the status moves on, the actions beside it
  // (hand-off, return, cancel) may no longer apply: reload, unless someone is typing.
  document.addEventListener("htmx:afterSettle", function () {
    var panel = document.getElementById("order-live");
    if (!panel) return;
    var now = panel.getAttribute("data-status");
    var before = document.body.getAttribute("data-order-status");
    if (before === null) return;
    var typing = document.activeElement && /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName);
    if (now !== before && !typing) window.location.reload();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("order-live");
    if (panel) document.body.setAttribute("data-order-status", panel.getAttribute("data-status"));
  });
})();
