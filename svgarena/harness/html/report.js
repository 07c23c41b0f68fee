// svgarena HTML report: filters, sort and pages over the gallery cards. No network, no libraries.
(function () {
  "use strict";
  // Embedded images are stored once each (a reference shown beside several models is one entry).
  var store = document.getElementById("images");
  var embedded = store ? JSON.parse(store.textContent) : {};
  Array.prototype.forEach.call(document.querySelectorAll("img[data-img]"), function (img) {
    var uri = embedded[img.getAttribute("data-img")];
    if (uri) img.src = uri;
  });

  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var order = cards.slice();
  var container = document.getElementById("cards");
  var el = function (id) { return document.getElementById(id); };
  var fTask = el("f-task"), fModel = el("f-model"), fOutcome = el("f-outcome");
  var sMetric = el("s-metric"), sDir = el("s-dir"), info = el("pageinfo");
  var pageSize = parseInt(container.getAttribute("data-page-size"), 10) || 50;
  var page = 0, matching = [];

  function matches(c) {
    return (!fTask.value || c.getAttribute("data-task") === fTask.value) &&
      (!fModel.value || c.getAttribute("data-model") === fModel.value) &&
      (!fOutcome.value || (fOutcome.value === "failed" ? c.getAttribute("data-outcome") !== "ok"
                                                      : c.getAttribute("data-outcome") === fOutcome.value));
  }

  function sortCards() {
    var m = sMetric.value, dir = sDir.value === "asc" ? 1 : -1;
    if (!m) { order = cards.slice(); }
    else {
      order = cards.slice().sort(function (a, b) {
        var va = a.getAttribute("data-m-" + m), vb = b.getAttribute("data-m-" + m);
        var na = va === null || va === "", nb = vb === null || vb === "";
        if (na || nb) return na === nb ? 0 : (na ? 1 : -1);  // samples without the metric go last
        return dir * (parseFloat(va) - parseFloat(vb));
      });
    }
    for (var i = 0; i < order.length; i++) container.appendChild(order[i]);
  }

  function show() {
    matching = order.filter(matches);
    var pages = Math.max(1, Math.ceil(matching.length / pageSize));
    if (page >= pages) page = pages - 1;
    if (page < 0) page = 0;
    var lo = page * pageSize, hi = Math.min(matching.length, lo + pageSize);
    for (var i = 0; i < cards.length; i++) cards[i].classList.add("hidden");
    for (var j = lo; j < hi; j++) matching[j].classList.remove("hidden");
    info.textContent = matching.length ? ("samples " + (lo + 1) + "-" + hi + " of " + matching.length +
      " matching (page " + (page + 1) + " of " + pages + ")") : "no sample matches these filters";
    el("prev").disabled = page === 0;
    el("next").disabled = page >= pages - 1;
  }

  function refilter() { page = 0; show(); }
  [fTask, fModel, fOutcome].forEach(function (s) { s.addEventListener("change", refilter); });
  [sMetric, sDir].forEach(function (s) { s.addEventListener("change", function () { sortCards(); refilter(); }); });
  el("prev").addEventListener("click", function () { page -= 1; show(); });
  el("next").addEventListener("click", function () { page += 1; show(); });
  el("reset").addEventListener("click", function () {
    fTask.value = ""; fModel.value = ""; fOutcome.value = ""; refilter();
  });

  // Links from table cells: set the filters to that task and model (and outcome), then go to the gallery.
  function fromLink(a) {
    fTask.value = a.getAttribute("data-task") || "";
    fModel.value = a.getAttribute("data-model") || "";
    fOutcome.value = a.getAttribute("data-outcome") || "";
    refilter();
  }
  Array.prototype.forEach.call(document.querySelectorAll("a.samples"), function (a) {
    a.addEventListener("click", function () { fromLink(a); });
  });

  sortCards();
  show();
})();
