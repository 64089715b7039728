// Keyboard shortcuts for the review pages (no external libraries).
(function () {
  "use strict";
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  const rows = Array.from(document.querySelectorAll("table[data-nav=rows] tbody tr"));
  let cursor = rows.length ? 0 : -1;
  const focusRow = (i) => {
    rows.forEach((r) => r.classList.remove("focused"));
    if (i >= 0 && rows[i]) { rows[i].classList.add("focused"); rows[i].scrollIntoView({ block: "nearest" }); }
  };
  focusRow(cursor);
  rows.forEach((row) => row.addEventListener("click", (e) => {
    if (e.target.tagName !== "A") { window.location = row.dataset.href; }
  }));
  const form = document.getElementById("rubric-form");
  const submitWith = (value) => {
    const button = form.querySelector(`button[value=${value}]`);
    if (button) { button.click(); }
  };
  document.addEventListener("keydown", (e) => {
    if (form && (e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); submitWith("save"); return; }
    if (form && (e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submitWith("approve"); return; }
    if (form && e.altKey && (e.key === "r" || e.key === "R")) { e.preventDefault(); document.getElementById("reason").focus(); return; }
    if (typing(document.activeElement)) { return; }
    if (form && e.key === "Escape") { window.location = "/"; return; }
    if (!rows.length) { return; }
    if (e.key === "j") { cursor = Math.min(rows.length - 1, cursor + 1); focusRow(cursor); }
    if (e.key === "k") { cursor = Math.max(0, cursor - 1); focusRow(cursor); }
    if (e.key === "Enter" && cursor >= 0) { window.location = rows[cursor].dataset.href; }
  });
})();
