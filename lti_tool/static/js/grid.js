// The mastery grid as a W3C ARIA grid: one Tab stop (roving tabindex), arrows/Home/End between cells,
// Enter or F2 opens the cell's evidence, Escape leaves the grid. Also tells Canvas how tall the page is.
(function () {
  "use strict";

  function resizeFrame() {
    if (window.parent === window) return;
    var height = document.documentElement.scrollHeight;
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  window.addEventListener("load", resizeFrame);
  window.addEventListener("resize", resizeFrame);
  window.mbResizeFrame = resizeFrame;

  var grid = document.getElementById("mastery-grid");
  if (!grid) return;
  // Cell links are sent without the session token to keep the page small; add it once here.
  var token = grid.getAttribute("data-session");
  if (token) {
    Array.prototype.forEach.call(grid.querySelectorAll("td.cell a[href]"), function (link) {
      var href = link.getAttribute("href");
      link.setAttribute("href", href + (href.indexOf("?") === -1 ? "?" : "&") + "mb_session=" + encodeURIComponent(token));
    });
  }
  var rows = Array.prototype.slice.call(grid.querySelectorAll("tbody tr"));
  var matrix = rows.map(function (row) {
    return Array.prototype.slice.call(row.querySelectorAll("th, td"));
  });
  if (!matrix.length) return;
  var current = matrix[0][Math.min(1, matrix[0].length - 1)];
  current.setAttribute("tabindex", "0");

  function position(cell) {
    for (var r = 0; r < matrix.length; r++) {
      var c = matrix[r].indexOf(cell);
      if (c !== -1) return [r, c];
    }
    return null;
  }
  function moveTo(r, c) {
    r = Math.max(0, Math.min(matrix.length - 1, r));
    c = Math.max(0, Math.min(matrix[r].length - 1, c));
    var next = matrix[r][c];
    current.setAttribute("tabindex", "-1");
    next.setAttribute("tabindex", "0");
    current = next;
    next.focus();
  }
  grid.addEventListener("focusin", function (event) {
    var cell = event.target.closest("th[scope=row], td");
    if (cell && position(cell) && cell !== current) {
      current.setAttribute("tabindex", "-1");
      cell.setAttribute("tabindex", "0");
      current = cell;
    }
  });
  grid.addEventListener("keydown", function (event) {
    var at = position(current);
    if (!at) return;
    var r = at[0], c = at[1];
    switch (event.key) {
      case "ArrowRight": moveTo(r, c + 1); break;
      case "ArrowLeft": moveTo(r, c - 1); break;
      case "ArrowDown": moveTo(r + 1, c); break;
      case "ArrowUp": moveTo(r - 1, c); break;
      case "Home": moveTo(event.ctrlKey ? 0 : r, 0); break;
      case "End": moveTo(event.ctrlKey ? matrix.length - 1 : r, matrix[r].length - 1); break;
      case "PageDown": moveTo(r + 10, c); break;
      case "PageUp": moveTo(r - 10, c); break;
      case "Enter":
      case "F2":
        var link = current.querySelector("a");
        if (link) link.click();
        break;
      case "Escape":
        var after = document.getElementById("after-grid");
        if (after) after.focus();
        break;
      default: return;
    }
    event.preventDefault();
  });
})();
