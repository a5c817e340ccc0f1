// Refreshes the fleet part of the nixherd dashboard: every few seconds it
// fetches the part again (rendered and escaped by the server) and swaps it
// in. Without JavaScript, a meta refresh reloads the whole page instead.
(function () {
  "use strict";
  var fleet = document.getElementById("fleet");
  var every = Math.max(1, Number(document.body.dataset.refresh) || 5) * 1000;
  function again() {
    fetch("?part=fleet", { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        fleet.innerHTML = html;
        document.body.classList.remove("offline");
      })
      .catch(function () { document.body.classList.add("offline"); })
      .then(function () { setTimeout(again, every); });
  }
  setTimeout(again, every);
})();
