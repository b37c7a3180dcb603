// The scoring sheet's keyboard path: a digit sets a level and moves to the next cell, "a" absent / not yet
// demonstrated, "m" missing, Backspace clears, Enter saves the student's row (one fetch, token in the
// Authorization header) and moves to the next student. 3 indicators = 3 digits + Enter per student.
(function () {
  "use strict";
  var form = document.getElementById("score-sheet");
  if (!form) return;
  var token = form.dataset.token;
  var levels = (form.dataset.levels || "").split(" ").filter(Boolean);
  var labels = (form.dataset.labels || "").split("|");
  var names = { a: "Not yet demonstrated", m: "Missing" };
  levels.forEach(function (key, i) { names[key] = labels[i] || ""; });
  var rows = Array.prototype.slice.call(form.querySelectorAll("tbody tr"));

  function cellsOf(row) { return Array.prototype.slice.call(row.querySelectorAll("input.level")); }
  function show(input) {
    var name = input.parentNode.querySelector(".level-name");
    if (name) name.textContent = input.value ? names[input.value] || "" : "";
  }
  function highlight(input) {
    Array.prototype.forEach.call(document.querySelectorAll(".rubric.active"), function (el) { el.classList.remove("active"); });
    var rubric = document.getElementById("rubric-" + input.dataset.indicator);
    if (rubric) rubric.classList.add("active");
    rows.forEach(function (row) { row.classList.toggle("current", row.contains(input)); });
  }
  function snapshot(row) {
    var data = { levels: {} };
    cellsOf(row).forEach(function (input) { if (input.value) data.levels[input.dataset.indicator] = input.value; });
    data.comment = row.querySelector(".comment").value;
    data.evidence_url = row.querySelector(".link").value;
    data.demonstrated_on = row.querySelector(".date").value || null;
    return data;
  }
  // One save in flight at a time: rows typed faster than the server answers queue up in order.
  var queue = Promise.resolve();
  function save(row) {
    queue = queue.then(function () { return send(row); });
  }
  function send(row) {
    var status = row.querySelector(".status");
    var data = snapshot(row);
    var body = JSON.stringify(data);
    if (!Object.keys(data.levels).length || row.dataset.savedBody === body) return Promise.resolve();
    status.textContent = "Saving…";
    row.dataset.savedBody = body;
    return fetch(row.dataset.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Authorization": "Bearer " + token },
      body: body
    }).then(function (response) {
      return response.json().then(function (json) { return { ok: response.ok, json: json }; });
    }).then(function (result) {
      if (result.ok) {
        status.textContent = "Saved " + result.json.saved;
        row.classList.add("saved");
      } else {
        delete row.dataset.savedBody;
        status.textContent = "Not saved: " + ((result.json.error && result.json.error.message) || "error");
      }
    }).catch(function () {
      delete row.dataset.savedBody;
      status.textContent = "Not saved: network error";
    });
  }
  function nextRowFirstCell(row) {
    var index = rows.indexOf(row);
    var next = rows[index + 1];
    if (next) cellsOf(next)[0].focus();
  }

  form.addEventListener("focusin", function (event) {
    if (event.target.matches("input.level")) highlight(event.target);
  });
  form.addEventListener("keydown", function (event) {
    var input = event.target;
    var row = input.closest("tbody tr");
    if (!row) return;
    if (event.key === "Enter") {
      event.preventDefault();
      save(row);
      nextRowFirstCell(row);
      return;
    }
    if (!input.matches("input.level") || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.toLowerCase();
    var cells = cellsOf(row);
    var at = cells.indexOf(input);
    if (levels.indexOf(key) !== -1 || key === "a" || key === "m") {
      event.preventDefault();
      input.value = key;
      show(input);
      if (at < cells.length - 1) cells[at + 1].focus();
      else row.querySelector(".comment").focus();
    } else if (key === "backspace" || key === "delete") {
      event.preventDefault();
      input.value = "";
      show(input);
    } else if (key.length === 1) {
      event.preventDefault();
    }
  });
  var first = rows.length && cellsOf(rows[0])[0];
  if (first) first.focus();
})();
