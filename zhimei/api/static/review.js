// 审核 reviewer workspace: keyboard shortcuts (a/r/e decide, j/k next/previous), reason checks, bulk selection.
(function () {
  "use strict";

  function typing(ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return true;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  // ---- case view ----
  var form = document.getElementById("decide-form");
  var msg = document.getElementById("decide-msg");

  function reasonsFor(decision) {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="reason"]'))
      .filter(function (el) { return el.value.indexOf(decision + ".") === 0; });
  }

  function checkDecision(decision) {
    var mine = reasonsFor(decision);
    if (!mine.some(function (el) { return el.checked; })) {
      if (msg) msg.textContent = "请选择原因 Choose at least one reason for this decision.";
      if (mine.length) mine[0].focus();
      return false;
    }
    // only the chosen decision's reason codes go with it
    form.querySelectorAll('input[name="reason"]').forEach(function (el) {
      if (el.value.indexOf(decision + ".") !== 0) el.checked = false;
    });
    if (msg) msg.textContent = "";
    return true;
  }

  if (form) {
    form.addEventListener("submit", function (ev) {
      var btn = ev.submitter;
      var decision = btn ? btn.value : "";
      if (!checkDecision(decision)) ev.preventDefault();
    });
  }

  function go(id) {
    var link = document.getElementById(id);
    if (link) window.location.href = link.getAttribute("href");
  }

  // ---- queue ----
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.case-row"));
  var current = -1;
  var selectAll = document.getElementById("select-all");
  var count = document.getElementById("selected-count");

  function updateCount() {
    if (!count) return;
    count.textContent = String(document.querySelectorAll(".case-check:checked").length);
  }

  function focusRow(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.classList.remove("current"); });
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll(".case-check").forEach(function (c) { c.checked = selectAll.checked; });
      updateCount();
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target && ev.target.classList && ev.target.classList.contains("case-check")) updateCount();
  });

  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    bulk.addEventListener("submit", function (ev) {
      var bulkMsg = document.getElementById("bulk-msg");
      var decision = ev.submitter ? ev.submitter.value : "";
      var reason = bulk.querySelector('select[name="reason"]');
      if (!bulk.querySelector(".case-check:checked")) {
        ev.preventDefault();
        if (bulkMsg) bulkMsg.textContent = "请选择案件 Select at least one case.";
      } else if (reason && reason.value.indexOf(decision + ".") !== 0) {
        ev.preventDefault();
        if (bulkMsg) bulkMsg.textContent = "原因与操作不符 Pick a reason that goes with this action.";
        reason.focus();
      }
    });
  }

  document.addEventListener("keydown", function (ev) {
    if (typing(ev)) return;
    var key = ev.key;
    if (form) {
      var button = form.querySelector('button[data-key="' + key + '"]');
      if (button && !button.disabled) {
        ev.preventDefault();
        if (checkDecision(button.value)) {
          if (form.requestSubmit) form.requestSubmit(button); else button.click();
        }
        return;
      }
    }
    if (rows.length) {
      if (key === "j") { ev.preventDefault(); focusRow(current + 1); return; }
      if (key === "k") { ev.preventDefault(); focusRow(current - 1); return; }
      if ((key === "o" || key === "Enter") && current >= 0) {
        ev.preventDefault();
        window.location.href = rows[current].getAttribute("data-href");
        return;
      }
      if (key === "x" && current >= 0) {
        ev.preventDefault();
        var box = rows[current].querySelector(".case-check");
        if (box) { box.checked = !box.checked; updateCount(); }
        return;
      }
    } else {
      if (key === "j") { ev.preventDefault(); go("case-next"); return; }
      if (key === "k") { ev.preventDefault(); go("case-prev"); }
    }
  });
})();
