// 流程 Workflow pages: the list (install a template, start a run), the editor (live validation, step-type
// reference, save), the run view (polls while active; retry a failed step, cancel) and the approval inbox
// (approve / reject with edits and a comment). Everything goes through the JSON API under /api/flows.
(function () {
  "use strict";
  var LABELS = {
    queued: "排队 Queued", running: "运行 Running", waiting: "待批 Waiting", succeeded: "成功 Succeeded",
    failed: "失败 Failed", cancelled: "已取消 Cancelled", pending: "未开始 Pending", skipped: "跳过 Skipped",
    approved: "已批准 Approved", rejected: "已驳回 Rejected", expired: "已过期 Expired"
  };
  var ACTIVE = { queued: 1, running: 1, waiting: 1 };
  var NOTE_KEY = "zhimei-flows-note";

  var api = window.zhimei.api;  // a refusal carries err.status and err.data (409 conflicts, 422 problems)

  var msg = document.querySelector('[data-testid="flow-msg"]');
  function say(text, isError) {
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle("error", !!isError);
  }
  function noteNext(text) {
    try { sessionStorage.setItem(NOTE_KEY, text); } catch (e) { /* private mode */ }
  }
  try {
    var pending = sessionStorage.getItem(NOTE_KEY);
    if (pending) { say(pending, false); sessionStorage.removeItem(NOTE_KEY); }
  } catch (e) { /* private mode */ }

  function busy(button, on) {
    if (button) button.disabled = !!on;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    // the same clock as the server-rendered times (UTC)
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " + p(d.getUTCHours()) +
      ":" + p(d.getUTCMinutes());
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + p(m) + ":" + p(sec) : m + ":" + p(sec);
  }

  function pretty(value) {
    return JSON.stringify(value === undefined ? null : value, null, 2);
  }

  // ================================ /flows: install, start a run ================================
  document.querySelectorAll('[data-action="install"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var name = btn.getAttribute("data-name");
      busy(btn, true);
      api("POST", "/api/flows/templates/" + encodeURIComponent(name) + "/install").then(function (flow) {
        noteNext("已安装 Installed " + flow.name + " v" + flow.version);
        window.location.reload();
      }).catch(function (err) { busy(btn, false); say(err.message, true); });
    });
  });

  var startForm = document.getElementById("start-form");
  if (startForm) {
    var inputsNode = document.getElementById("flow-inputs");
    var declared = {};
    try { declared = JSON.parse(inputsNode ? inputsNode.textContent : "{}") || {}; } catch (e) { declared = {}; }
    var rows = startForm.querySelector('[data-testid="kv-rows"]');
    var jsonBox = startForm.elements.json;
    var rowCount = 0;

    var addRow = function (name, type, value, doc, required) {
      rowCount += 1;
      var tr = el("tr", { "data-testid": "kv-row" });
      var nameId = "kv-name-" + rowCount, valueId = "kv-value-" + rowCount;
      var nameCell = el("td");
      nameCell.appendChild(el("label", { "for": nameId, "class": "sr-only" }, "名称 Name"));
      var nameInput = el("input", { type: "text", id: nameId, "data-kv": "name", "data-testid": "kv-name",
                                    maxlength: "128" });
      nameInput.value = name || "";
      nameCell.appendChild(nameInput);
      if (type) nameCell.appendChild(el("span", { "class": "muted small" }, " " + type + (required ? " *" : "")));
      var valueCell = el("td");
      valueCell.appendChild(el("label", { "for": valueId, "class": "sr-only" }, "值 Value " + (name || "")));
      var valueInput = el("textarea", { id: valueId, rows: "1", "data-kv": "value", "data-testid": "kv-value",
                                        "data-type": type || "string" });
      if (value !== undefined && value !== null) {
        valueInput.value = typeof value === "string" ? value : JSON.stringify(value);
      }
      valueCell.appendChild(valueInput);
      if (doc) valueCell.appendChild(el("div", { "class": "muted small" }, doc));
      var rmCell = el("td");
      var rm = el("button", { type: "button", "class": "btn small", "data-testid": "kv-remove" }, "删除 Remove");
      rm.addEventListener("click", function () { tr.remove(); });
      rmCell.appendChild(rm);
      tr.appendChild(nameCell); tr.appendChild(valueCell); tr.appendChild(rmCell);
      rows.appendChild(tr);
      return tr;
    };

    var fillRows = function () {
      rows.textContent = "";
      var specs = declared[startForm.elements.workflow.value] || [];
      specs.forEach(function (s) { addRow(s.name, s.type, s["default"], s.doc, s.required); });
      if (!specs.length) addRow("", "", "");
    };
    startForm.elements.workflow.addEventListener("change", fillRows);
    fillRows();
    startForm.querySelector('[data-action="add-row"]').addEventListener("click", function () {
      addRow("", "", "").querySelector("input").focus();
    });

    var rowsToInputs = function () {
      var out = {};
      rows.querySelectorAll("tr").forEach(function (tr) {
        var name = tr.querySelector('[data-kv="name"]').value.trim();
        var box = tr.querySelector('[data-kv="value"]');
        var raw = box.value;
        if (!name) {
          if (raw.trim()) throw new Error("有值没有名称 A value has no name: " + raw.slice(0, 40));
          return;
        }
        if (raw.trim() === "") return;  // empty: the workflow's default applies
        out[name] = raw;  // the server reads text as the declared type (int, bool, list "a, b" or JSON)
      });
      return out;
    };

    var modeOf = function () { return startForm.querySelector('input[name="mode"]:checked').value; };
    startForm.querySelectorAll('input[name="mode"]').forEach(function (radio) {
      radio.addEventListener("change", function () {
        var mode = modeOf();
        if (mode === "json") {
          try { jsonBox.value = JSON.stringify(rowsToInputs(), null, 2); } catch (e) { say(e.message, true); }
        }
        startForm.querySelectorAll("[data-pane]").forEach(function (pane) {
          pane.hidden = pane.getAttribute("data-pane") !== mode;
        });
      });
    });

    document.querySelectorAll('[data-action="pick-flow"]').forEach(function (btn) {
      btn.addEventListener("click", function () {
        startForm.elements.workflow.value = btn.getAttribute("data-name");
        fillRows();
        startForm.scrollIntoView({ behavior: "smooth", block: "start" });
        startForm.elements.workflow.focus();
      });
    });

    startForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var inputs;
      try {
        if (modeOf() === "json") {
          var raw = jsonBox.value.trim();
          inputs = raw ? JSON.parse(raw) : {};
          if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
            throw new Error("输入必须是 JSON 对象 Inputs must be a JSON object ({...})");
          }
        } else {
          inputs = rowsToInputs();
        }
      } catch (e) {
        say(e instanceof SyntaxError ? "输入不是 JSON Inputs are not valid JSON: " + e.message : e.message, true);
        return;
      }
      var name = startForm.elements.workflow.value;
      var button = startForm.querySelector('[data-testid="start-submit"]');
      busy(button, true);
      api("POST", "/api/flows/" + encodeURIComponent(name) + "/runs", { inputs: inputs }).then(function (run) {
        window.location.assign("/flows/runs/" + run.id);
      }).catch(function (err) { busy(button, false); say(err.message, true); });
    });
  }

  // ================================ editor ================================
  var editor = document.getElementById("editor-form");
  if (editor) {
    var source = editor.elements.source;
    var stateBadge = editor.querySelector('[data-testid="validation-state"]');
    var problemList = editor.querySelector('[data-testid="problems"]');
    var summary = editor.querySelector('[data-testid="validation-summary"]');
    var escaped = false;
    var INDENT = "  ";

    var setState = function (state, text) {
      stateBadge.setAttribute("data-state", state);
      stateBadge.textContent = text;
      stateBadge.className = "badge validation-" + state;
    };

    var showProblems = function (problems) {
      problemList.textContent = "";
      (problems || []).forEach(function (p) {
        var li = el("li", { "data-testid": "problem", "data-path": p.path || "" });
        li.appendChild(el("code", { "class": "problem-path" }, p.path || "(文档 document)"));
        li.appendChild(document.createTextNode(" " + (p.message || "")));
        problemList.appendChild(li);
      });
    };

    var describe = function (def) {
      if (!def) return "";
      var steps = def.steps;
      var n = Array.isArray(steps) ? steps.length : (steps && typeof steps === "object" ? Object.keys(steps).length : 0);
      return (def.name ? def.name + " · " : "") + (def.title ? def.title + " · " : "") + n + " 步 steps";
    };

    var seq = 0;
    var validate = function () {
      var mine = ++seq;
      if (!source.value.trim()) {
        setState("idle", "空 Empty");
        showProblems([]);
        summary.textContent = "";
        return Promise.resolve(null);
      }
      setState("checking", "检查中 Checking…");
      return api("POST", "/api/flows/validate", { source: source.value, format: editor.elements.format.value || null })
        .then(function (res) {
          if (mine !== seq) return res;
          showProblems(res.problems);
          setState(res.ok ? "ok" : "bad", res.ok ? "✓ 有效 Valid" : "✗ " + (res.problems || []).length + " 个问题 problems");
          summary.textContent = res.ok ? describe(res.definition) : "";
          return res;
        })
        .catch(function (err) {
          if (mine === seq) { setState("bad", "✗ 出错 Error"); showProblems([{ path: "", message: err.message }]); }
        });
    };

    var timer = null;
    var schedule = function () {
      clearTimeout(timer);
      timer = setTimeout(validate, 400);
    };
    source.addEventListener("input", schedule);
    editor.elements.format.addEventListener("change", schedule);
    editor.querySelector('[data-action="validate"]').addEventListener("click", validate);
    if (source.value.trim()) validate();

    // Tab indents (YAML wants spaces), Shift+Tab outdents, Enter keeps the line's indent; Esc lets Tab leave.
    var lineStart = function (text, pos) { return text.lastIndexOf("\n", pos - 1) + 1; };
    var replaceRange = function (start, end, text, selStart, selEnd) {
      source.setRangeText(text, start, end, "end");
      source.setSelectionRange(selStart, selEnd);
      source.dispatchEvent(new Event("input"));
    };
    source.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { escaped = true; return; }
      var text = source.value, a = source.selectionStart, b = source.selectionEnd;
      if (ev.key === "Tab" && !escaped && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
        ev.preventDefault();
        var from = lineStart(text, a);
        if (!ev.shiftKey && a === b) { replaceRange(a, b, INDENT, a + INDENT.length, a + INDENT.length); return; }
        var block = text.slice(from, b);
        var lines = block.split("\n");
        var changed = lines.map(function (line) {
          if (!ev.shiftKey) return INDENT + line;
          return line.replace(/^ {1,2}/, "");
        }).join("\n");
        var delta = changed.length - block.length;
        var firstDelta = ev.shiftKey ? (lines[0].match(/^ {0,2}/)[0].length * -1) : INDENT.length;
        replaceRange(from, b, changed, Math.max(from, a + firstDelta), b + delta);
        return;
      }
      escaped = false;
      if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ev.altKey && a === b) {
        var start = lineStart(text, a);
        var indent = text.slice(start, a).match(/^[ \t]*/)[0];
        if (/:\s*$/.test(text.slice(start, a))) indent += INDENT;  // after "key:" one level deeper
        if (!indent) return;
        ev.preventDefault();
        replaceRange(a, b, "\n" + indent, a + 1 + indent.length, a + 1 + indent.length);
      }
    });

    editor.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = editor.querySelector('[data-testid="editor-save"]');
      busy(button, true);
      api("POST", "/api/flows", { source: source.value, format: editor.elements.format.value || null })
        .then(function (flow) {
          noteNext("已保存 Saved " + flow.name + " v" + flow.version);
          window.location.assign("/flows/" + encodeURIComponent(flow.name) + "/edit");
        })
        .catch(function (err) {
          busy(button, false);
          var problems = err.data && err.data.problems;
          if (problems && problems.length) {
            showProblems(problems);
            setState("bad", "✗ " + problems.length + " 个问题 problems");
          }
          say("未保存 Not saved: " + err.message, true);
        });
    });

    var del = editor.querySelector('[data-action="delete"]');
    if (del) {
      del.addEventListener("click", function () {
        var name = editor.getAttribute("data-name");
        if (!window.confirm("删除工作流 Delete workflow " + name + "?")) return;
        busy(del, true);
        api("DELETE", "/api/flows/" + encodeURIComponent(name)).then(function () {
          window.location.assign("/flows?notice=flow-deleted");
        }).catch(function (err) { busy(del, false); say(err.message, true); });
      });
    }

    // the step-type reference
    var ref = document.querySelector('[data-testid="step-types"]');
    var filter = document.querySelector('[data-testid="ref-filter"]');
    var fieldTable = function (caption, fields) {
      if (!fields || !fields.length) return null;
      var table = el("table", { "class": "ref-fields" });
      table.appendChild(el("caption", {}, caption));
      var head = el("tr");
      ["名称 Name", "类型 Type", "说明 Doc"].forEach(function (h) { head.appendChild(el("th", { scope: "col" }, h)); });
      table.appendChild(head);
      fields.forEach(function (f) {
        var tr = el("tr");
        tr.appendChild(el("td", { "class": "mono" }, f.name + (f.required ? " *" : "")));
        tr.appendChild(el("td", { "class": "mono" }, f.type || ""));
        tr.appendChild(el("td", {}, f.doc || ""));
        table.appendChild(tr);
      });
      return table;
    };
    api("GET", "/api/flows/step-types").then(function (types) {
      ref.textContent = "";
      (types || []).forEach(function (t) {
        var box = el("details", { "class": "step-type", "data-testid": "step-type", "data-name": t.name });
        var sum = el("summary");
        sum.appendChild(el("code", {}, t.name));
        sum.appendChild(document.createTextNode(" " + (t.title || "")));
        box.appendChild(sum);
        if (t.description) box.appendChild(el("p", { "class": "small" }, t.description));
        var ins = fieldTable("输入 Inputs", t.inputs);
        if (ins) box.appendChild(ins);
        var outs = fieldTable("输出 Outputs", t.outputs);
        if (outs) box.appendChild(outs);
        ref.appendChild(box);
      });
      if (!types || !types.length) ref.appendChild(el("p", { "class": "muted small" }, "没有步骤类型 No step types."));
    }).catch(function (err) {
      ref.textContent = "";
      ref.appendChild(el("p", { "class": "error small" }, err.message));
    });
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase();
        ref.querySelectorAll(".step-type").forEach(function (box) {
          box.hidden = q !== "" && box.textContent.toLowerCase().indexOf(q) === -1;
        });
      });
    }
  }

  // ================================ run view ================================
  var runBox = document.querySelector('[data-testid="run"]');
  if (runBox) {
    var runId = runBox.getAttribute("data-run-id");
    var runBadge = document.querySelector('[data-testid="run-status"]');
    var cancelBtn = document.querySelector('[data-action="cancel-run"]');

    var setText = function (scope, field, text) {
      var node = scope.querySelector('[data-field="' + field + '"]');
      if (node && node.textContent !== text) node.textContent = text;
      return node;
    };

    var renderRun = function (run) {
      var keys = Array.prototype.map.call(runBox.querySelectorAll('[data-testid="step"]'),
        function (li) { return li.getAttribute("data-key"); });
      var fresh = (run.steps || []).map(function (s) { return s.key; });
      if (keys.join("\u0000") !== fresh.join("\u0000")) { window.location.reload(); return; }
      runBox.setAttribute("data-status", run.status);
      runBadge.setAttribute("data-status", run.status);
      runBadge.textContent = LABELS[run.status] || run.status;
      runBadge.className = "badge status status-" + run.status;
      var runField = function (name, text) {
        var node = runBox.querySelector('[data-run-field="' + name + '"]');
        if (node) node.textContent = text;
        return node;
      };
      runField("started_at", when(run.started_at));
      runField("finished_at", when(run.finished_at));
      runField("seconds", duration(run.seconds));
      runField("tokens", String(run.tokens || 0));
      runField("error", run.error || "").hidden = !run.error;
      if (cancelBtn) cancelBtn.hidden = !ACTIVE[run.status];
      (run.steps || []).forEach(function (s) {
        var li = runBox.querySelector('[data-testid="step"][data-key="' + CSS.escape(s.key) + '"]');
        if (!li) return;
        li.setAttribute("data-status", s.status);
        var badge = setText(li, "status", LABELS[s.status] || s.status);
        if (badge) badge.className = "badge status status-" + s.status;
        setText(li, "attempt", String(s.attempt || 0));
        setText(li, "started_at", when(s.started_at));
        setText(li, "finished_at", when(s.finished_at));
        setText(li, "seconds", duration(s.seconds));
        setText(li, "tokens", String(s.tokens || 0));
        setText(li, "heartbeat_at", when(s.heartbeat_at));
        setText(li, "error", s.error || "").hidden = !s.error;
        var bar = li.querySelector('[data-field="progress"]');
        if (bar) { bar.value = s.progress || 0; bar.hidden = s.status !== "running"; }
        li.querySelector('[data-field="stuck"]').hidden = !s.stuck;
        setText(li, "inputs", pretty(s.inputs));
        setText(li, "outputs", pretty(s.outputs));
        var approval = li.querySelector('[data-field="approval"]');
        var waiting = s.status === "waiting" && s.approval_id;
        approval.hidden = !waiting;
        if (waiting) approval.querySelector("a").setAttribute("href", "/flows/inbox#approval-" + s.approval_id);
        var retry = li.querySelector('[data-action="retry-step"]');
        if (retry) retry.hidden = !(s.status === "failed" || s.status === "cancelled" || s.stuck);
      });
    };

    var pollTimer = null;
    var poll = function () {
      api("GET", "/api/flows/runs/" + runId).then(function (run) {
        renderRun(run);
        if (ACTIVE[run.status]) {
          pollTimer = setTimeout(poll, run.status === "waiting" ? 3000 : 1000);
        } else {
          runBox.setAttribute("data-live", "0");
        }
      }).catch(function (err) {
        say("刷新失败，稍后重试 Refresh failed, trying again: " + err.message, true);
        pollTimer = setTimeout(poll, 5000);
      });
    };
    var startPolling = function () {
      clearTimeout(pollTimer);
      runBox.setAttribute("data-live", "1");
      pollTimer = setTimeout(poll, 1000);
    };
    if (runBox.getAttribute("data-live") === "1") startPolling();

    runBox.querySelectorAll('[data-action="retry-step"]').forEach(function (btn) {
      btn.addEventListener("click", function () {
        var key = btn.getAttribute("data-key");
        busy(btn, true);
        api("POST", "/api/flows/runs/" + runId + "/steps/" + encodeURIComponent(key) + "/retry").then(function (run) {
          busy(btn, false);
          say("已重试 Retrying step " + key, false);
          renderRun(run);
          startPolling();
        }).catch(function (err) { busy(btn, false); say(err.message, true); });
      });
    });
    if (cancelBtn) {
      cancelBtn.addEventListener("click", function () {
        if (!window.confirm("取消这次运行 Cancel run #" + runId + "?")) return;
        busy(cancelBtn, true);
        api("POST", "/api/flows/runs/" + runId + "/cancel").then(function (run) {
          busy(cancelBtn, false);
          say("已取消 Run cancelled.", false);
          renderRun(run);
        }).catch(function (err) { busy(cancelBtn, false); say(err.message, true); });
      });
    }
  }

  // ================================ approval inbox ================================
  document.querySelectorAll('[data-testid="decision-form"]').forEach(function (form) {
    var out = form.querySelector('[data-testid="decision-msg"]');
    var id = form.getAttribute("data-id");
    var runId = form.getAttribute("data-run");
    var card = form.closest('[data-testid="approval"]');
    var decision = "approve";
    form.querySelectorAll('button[name="decision"]').forEach(function (b) {
      b.addEventListener("click", function () { decision = b.value; });
    });

    var edits = function () {
      var result = {};
      form.querySelectorAll("[data-edit]").forEach(function (input) {
        var name = input.getAttribute("data-edit");
        var type = input.getAttribute("data-type");
        if (type === "bool") result[name] = input.checked;
        else if (type === "pick") {
          result[name] = Array.prototype.filter.call(input.querySelectorAll("input[data-item]"),
            function (box) { return box.checked; }).map(function (box) { return JSON.parse(box.getAttribute("data-item")); });
        } else if (type === "number") {
          if (input.value.trim() !== "") {
            var n = Number(input.value);
            if (!isFinite(n)) throw new Error(name + ": 需要数字 needs a number");
            result[name] = n;
          }
        } else if (type === "list") {
          result[name] = input.value.split("\n").map(function (s) { return s.trim(); })
            .filter(function (s) { return s !== ""; });
        } else result[name] = input.value;
      });
      return result;
    };

    var finish = function (text, status, isError) {
      out.textContent = "";
      out.classList.toggle("error", !!isError);
      out.appendChild(document.createTextNode(text + " "));
      out.appendChild(el("a", { href: "/flows/runs/" + runId, "data-testid": "decision-run-link" },
                         "查看运行 View run #" + runId + " →"));
      form.querySelectorAll("input, textarea, button, fieldset").forEach(function (c) { c.disabled = true; });
      if (card && status) card.setAttribute("data-status", status);
      var badge = card && card.querySelector('[data-testid="approval-status"]');
      if (badge && status) { badge.textContent = LABELS[status] || status; badge.className = "badge status status-" + status; }
    };

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (ev.submitter && ev.submitter.value) decision = ev.submitter.value;
      var body;
      try {
        body = { decision: decision, edits: edits(), comment: form.elements.comment.value };
      } catch (e) { out.textContent = e.message; out.classList.add("error"); return; }
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      out.classList.remove("error");
      out.textContent = "提交中 Sending…";
      api("POST", "/api/flows/approvals/" + id, body).then(function (a) {
        var done = a.status === "approved" ? "已批准 Approved — 运行继续 the run resumes."
          : "已驳回 Rejected.";
        finish(done, a.status, false);
      }).catch(function (err) {
        if (err.status === 409) {
          finish("已被他人处理 Someone else decided first: " + err.message, null, true);
          card.setAttribute("data-conflict", "1");
          return;
        }
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        out.textContent = err.message;
        out.classList.add("error");
      });
    });
  });
}());
