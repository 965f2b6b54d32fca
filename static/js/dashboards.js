/* Dashboards: every <figure data-chart-url> fetches its chart payload (dashboards.charts.Chart)
   and draws it with Chart.js 4, then writes the same figures into the table alternative, the
   description, the notes and the time the figures were computed. No inline script (CSP). */
(function () {
  "use strict";

  function text(el, value) { if (el) { el.textContent = value; } }

  function formatCell(value) {
    if (value === null || value === undefined || value === "") { return "—"; }
    if (typeof value === "number") {
      return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumFractionDigits: 3 });
    }
    return String(value);
  }

  function fillTable(figure, table) {
    var holder = figure.querySelector(".chart-table-body");
    var details = figure.querySelector(".chart-table");
    if (!holder || !details) { return; }
    holder.textContent = "";
    if (!table || !table.rows || !table.rows.length) { details.hidden = true; return; }
    details.hidden = false;
    var t = document.createElement("table");
    if (table.caption) { var cap = document.createElement("caption"); cap.textContent = table.caption; t.appendChild(cap); }
    var head = t.createTHead().insertRow();
    table.columns.forEach(function (c) { var th = document.createElement("th"); th.scope = "col"; th.textContent = c; head.appendChild(th); });
    var body = t.createTBody();
    table.rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (cell, i) {
        var td = i === 0 ? document.createElement("th") : document.createElement("td");
        if (i === 0) { td.scope = "row"; }
        // Numbers and the dash of a missing (or suppressed) number line up on the right.
        if (typeof cell === "number" || (i > 0 && (cell === null || cell === undefined))) { td.className = "num"; }
        td.textContent = formatCell(cell);
        tr.appendChild(td);
      });
    });
    holder.appendChild(t);
  }

  function fillNotes(figure, notes) {
    var list = figure.querySelector(".chart-notes");
    if (!list) { return; }
    list.textContent = "";
    (notes || []).forEach(function (n) { var li = document.createElement("li"); li.textContent = n; list.appendChild(li); });
    list.hidden = !(notes && notes.length);
  }

  function computedWords(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) { return ""; }
    return "Computed " + when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) + ".";
  }

  function draw(figure, payload) {
    text(figure.querySelector(".chart-title"), payload.title || figure.dataset.title || "");
    text(figure.querySelector(".chart-desc"), payload.description || "");
    text(figure.querySelector(".chart-computed"), computedWords(payload.computed_at));
    fillNotes(figure, payload.notes);
    fillTable(figure, payload.table);
    var canvas = figure.querySelector("canvas");
    var empty = figure.querySelector(".chart-empty");
    if (payload.empty) {
      canvas.parentNode.hidden = true;
      text(empty, payload.empty_text);
      empty.hidden = false;
      figure.dataset.state = "empty";
      return;
    }
    canvas.setAttribute("aria-label", (payload.title || "") + ". " + (payload.description || "") + " The figures are in the table below.");
    var options = payload.options || {};
    options.responsive = true;
    options.maintainAspectRatio = false;
    options.animation = false;  // draw at once: screenshots and screen magnifiers see the final chart
    options.plugins = options.plugins || {};
    options.plugins.legend = options.plugins.legend || { position: "bottom", labels: { usePointStyle: true } };
    if (figure._chart) { figure._chart.destroy(); }
    figure._chart = new window.Chart(canvas, { type: payload.type, data: payload.data, options: options });
    figure.dataset.state = "drawn";
  }

  function fail(figure, message) {
    var empty = figure.querySelector(".chart-empty");
    var canvas = figure.querySelector("canvas");
    canvas.parentNode.hidden = true;
    text(empty, message);
    empty.hidden = false;
    text(figure.querySelector(".chart-computed"), "");
    figure.dataset.state = "error";
  }

  function load(figure) {
    figure.dataset.state = "loading";
    fetch(figure.dataset.chartUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) { fail(figure, (result.body && result.body.detail) || "This chart could not be loaded."); return; }
        draw(figure, result.body);
      })
      .catch(function () { fail(figure, "This chart could not be loaded. Check your connection and reload the page."); });
  }

  function start() {
    if (window.Chart) {
      window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.color = "#1b2430";
    }
    document.querySelectorAll("figure[data-chart-url]").forEach(load);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
