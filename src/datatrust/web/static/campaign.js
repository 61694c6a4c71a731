/* Datatrust campaign form: as the rate, currency or minutes of effort change, ask the
   server for the pay-floor check of those terms (GET /campaigns/new?part=check, the same
   check that opening the campaign applies) and show it in place. Without this script the
   "Check the hourly rate" button asks for the same check with the whole form. */
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var names = ["rate", "currency", "expected_minutes", "pay_basis"];
  var timer = null;
  var asked = 0;

  function refresh() {
    var params = new URLSearchParams();
    names.forEach(function (name) {
      var input = form.elements[name];
      if (input) params.set(name, input.value);
    });
    params.set("part", "check");
    var mine = ++asked;
    fetch("/campaigns/new?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || mine !== asked) return;
        var box = document.getElementById("pay-check");
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("pay-check");
        if (box && fresh) box.replaceWith(document.importNode(fresh, true));
      })
      .catch(function () { /* the button still checks */ });
  }

  names.forEach(function (name) {
    var input = form.elements[name];
    if (!input) return;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  });
  var button = document.getElementById("check-rate");
  if (button) button.hidden = true;
})();
