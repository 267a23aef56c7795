// Sorting and filtering of the report page's tables. Written out here (about 50 lines) rather
// than taken from a library: the page loads nothing from elsewhere (no CDN), and the project
// ships no JavaScript dependency to inline.
"use strict";
(function () {
  function sortKey(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    if (!numeric) return raw.toLowerCase();
    return raw === "" ? null : Number(raw);
  }
  function compare(a, b, numeric) {
    if (a === b) return 0;
    if (a === null) return 1; // missing values last, either direction
    if (b === null) return -1;
    return numeric ? a - b : a.localeCompare(b);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("th");
    table.querySelectorAll("th button").forEach(function (button) {
      button.addEventListener("click", function () {
        var th = button.parentElement;
        var column = Number(button.getAttribute("data-column"));
        var numeric = button.getAttribute("data-numeric") === "yes";
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
          return { row: row, index: index, key: sortKey(row.cells[column], numeric) };
        });
        rows.sort(function (a, b) {
          if (a.key === null || b.key === null) return compare(a.key, b.key, numeric) || a.index - b.index;
          return (ascending ? 1 : -1) * compare(a.key, b.key, numeric) || a.index - b.index;
        });
        rows.forEach(function (r) { body.appendChild(r.row); });
      });
    });
  });
  var filter = document.getElementById("filter");
  var status = document.getElementById("status-filter");
  var table = document.getElementById("features-table");
  var shown = document.getElementById("shown");
  if (!filter || !status || !table) return;
  function apply() {
    var words = filter.value.toLowerCase().trim();
    var wanted = status.value;
    var rows = table.tBodies[0].rows;
    var visible = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = (!wanted || rows[i].getAttribute("data-status") === wanted) &&
        (!words || rows[i].textContent.toLowerCase().indexOf(words) !== -1);
      rows[i].hidden = !ok;
      if (ok) visible++;
    }
    shown.textContent = visible + " of " + rows.length + " shown";
  }
  filter.addEventListener("input", apply);
  status.addEventListener("change", apply);
}());
