// 编辑部 Desk board: create desks, manage members, add assets, move cards between stages (select or drag),
// assign, hand over, lock/unlock, and the item history drawer — all through the JSON API (window.zhimei.api).
// A change carries the version the card was drawn with, and the lock token when this browser holds the lock.
(function () {
  "use strict";
  var msg = document.querySelector('[data-testid="desk-msg"]');
  var board = document.querySelector('[data-testid="desk-board"]');
  var drawer = document.querySelector('[data-testid="history-drawer"]');
  var LABELS = { created: "创建 created", moved: "移动 moved", assigned: "分配 assigned", handed_over: "交接 handed over",
                 transferred: "转部门 transferred", retitled: "改标题 retitled", locked: "锁定 locked", unlocked: "解锁 unlocked",
                 lock_broken: "强制解锁 lock broken", note: "备注 note" };

  function say(text, isError) {
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle("error", !!isError);
  }

  function reloadWith(note) {
    try { sessionStorage.setItem("zhimei-desk-note", note); } catch (e) { /* private mode */ }
    window.location.reload();
  }

  try {
    var note = sessionStorage.getItem("zhimei-desk-note");
    if (note) { say(note, false); sessionStorage.removeItem("zhimei-desk-note"); }
  } catch (e) { /* private mode */ }

  function tokenKey(id) { return "zhimei-desk-lock-" + id; }
  function getToken(id) { try { return sessionStorage.getItem(tokenKey(id)); } catch (e) { return null; } }
  function setToken(id, token) {
    try { if (token) sessionStorage.setItem(tokenKey(id), token); else sessionStorage.removeItem(tokenKey(id)); }
    catch (e) { /* private mode */ }
  }

  // the lock token when this user holds the card's lock (asked again from the server when this browser lost it:
  // locking your own lock renews it and answers the same token)
  function myToken(card) {
    var me = board ? board.dataset.me : "";
    if (card.dataset.lockedBy !== me) return Promise.resolve(null);
    var token = getToken(card.dataset.id);
    if (token) return Promise.resolve(token);
    return window.zhimei.api("POST", itemUrl(card, "/lock"), {}).then(function (l) {
      setToken(card.dataset.id, l.token);
      return l.token;
    });
  }

  function write(card, tail, extra, method) {
    return myToken(card).then(function (token) {
      var body = { version: parseInt(card.dataset.version, 10) };
      if (token) body.lock_token = token;
      Object.keys(extra || {}).forEach(function (k) { body[k] = extra[k]; });
      return window.zhimei.api(method || "POST", itemUrl(card, tail), body);
    });
  }

  function itemUrl(card, tail) { return "/api/desks/items/" + card.dataset.id + (tail || ""); }

  function fail(e) { say(e.message, true); }

  // ---- create a desk ----
  var cform = document.querySelector('[data-testid="desk-create-form"]');
  if (cform) {
    cform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      window.zhimei.api("POST", "/api/desks", { name: cform.elements.name.value, description: cform.elements.description.value })
        .then(function (d) {
          try { sessionStorage.setItem("zhimei-desk-note", "已创建部门 Desk " + d.name + " created."); } catch (e) { /* */ }
          window.location.href = "/desk?desk=" + encodeURIComponent(d.name);
        }).catch(fail);
    });
  }

  if (!board) return;
  var desk = board.dataset.desk;
  var deskUrl = "/api/desks/" + encodeURIComponent(desk);

  // ---- members ----
  var mform = document.querySelector('[data-testid="member-form"]');
  if (mform) {
    mform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = mform.elements.name.value.trim();
      window.zhimei.api("PUT", deskUrl + "/members/" + encodeURIComponent(name), { role: mform.elements.role.value })
        .then(function (m) { reloadWith("成员 Member " + m.name + " is " + m.role + "."); }).catch(fail);
    });
  }
  document.querySelectorAll('[data-action="remove-member"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var name = btn.closest("li").dataset.name;
      if (!window.confirm("移除成员 Remove " + name + " from " + desk + "?")) return;
      window.zhimei.api("DELETE", deskUrl + "/members/" + encodeURIComponent(name))
        .then(function () { reloadWith("已移除 Removed " + name + "."); }).catch(fail);
    });
  });

  // ---- add an asset ----
  var iform = document.querySelector('[data-testid="item-add-form"]');
  if (iform) {
    iform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { asset_id: parseInt(iform.elements.asset_id.value, 10) };
      if (iform.elements.title.value.trim()) body.title = iform.elements.title.value;
      window.zhimei.api("POST", deskUrl + "/items", body).then(function (it) {
        reloadWith((it.created ? "已加入 Added" : "已在本部门 Already here") + ": item " + it.id + " · " + it.title);
      }).catch(fail);
    });
  }

  // ---- card actions ----
  function move(card, stage) {
    return write(card, "/move", { stage: stage })
      .then(function (it) { reloadWith("已移动 Item " + it.id + " moved to " + it.stage + "."); });
  }

  var actions = {
    move: function (card) { return move(card, card.querySelector('[data-testid="move-select"]').value); },
    assign: function (card) {
      var who = card.querySelector('[data-testid="assign-select"]').value || null;
      return write(card, "/assign", { assignee: who })
        .then(function (it) { reloadWith("已分配 Item " + it.id + " → " + (it.assignee || "nobody") + "."); });
    },
    handover: function (card) {
      var who = card.querySelector('[data-testid="assign-select"]').value;
      if (!who) { say("先选择交接对象 Choose the member to hand over to in the list.", true); return null; }
      var text = window.prompt("交接说明 Hand-over note for " + who + ":", "");
      if (text === null) return null;
      return write(card, "/handover", { to: who, note: text })
        .then(function (it) { reloadWith("已交接 Item " + it.id + " handed over to " + it.assignee + "."); });
    },
    retitle: function (card) {
      var current = card.querySelector('[data-testid="card-title"]').textContent;
      var title = window.prompt("新标题 New working title:", current);
      if (title === null || title === current) return null;
      return write(card, "", { title: title }, "PATCH").then(function (it) { reloadWith("已改标题 Item " + it.id + ": " + it.title); });
    },
    lock: function (card) {
      return window.zhimei.api("POST", itemUrl(card, "/lock"), {}).then(function (l) {
        setToken(card.dataset.id, l.token);
        reloadWith("已锁定 Item " + l.item_id + " locked until " + l.expires_at + ".");
      });
    },
    renew: function (card) {
      return myToken(card).then(function (token) {
        return window.zhimei.api("POST", itemUrl(card, "/lock/renew"), { token: token });
      }).then(function (l) { reloadWith("已续期 Item " + l.item_id + " locked until " + l.expires_at + "."); });
    },
    unlock: function (card) {
      return myToken(card).then(function (token) {
        return window.zhimei.api("POST", itemUrl(card, "/unlock"), { token: token });
      }).then(function () {
        setToken(card.dataset.id, null);
        reloadWith("已解锁 Item " + card.dataset.id + " unlocked.");
      });
    },
    "break-lock": function (card) {
      var reason = window.prompt("强制解锁原因 Why break " + card.dataset.lockedBy + "'s lock?", "");
      if (reason === null) return null;
      return window.zhimei.api("POST", itemUrl(card, "/lock/break"), { reason: reason })
        .then(function (r) { reloadWith("已强制解锁 Lock of " + r.holder + " broken."); });
    },
    history: function (card) { return openHistory(card); }
  };

  board.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-action]") : null;
    if (!btn) return;
    var card = btn.closest('[data-testid="desk-card"]');
    var fn = actions[btn.dataset.action];
    if (!card || !fn) return;
    var done = fn(card);
    if (done && done.catch) done.catch(fail);
  });

  // ---- drag a card onto another column ----
  var transitions = JSON.parse(board.dataset.transitions || "{}");
  var dragged = null;
  board.addEventListener("dragstart", function (ev) {
    dragged = ev.target.closest ? ev.target.closest('[data-testid="desk-card"]') : null;
    if (dragged && ev.dataTransfer) ev.dataTransfer.setData("text/plain", dragged.dataset.id);
  });
  board.querySelectorAll('[data-testid="desk-column"]').forEach(function (col) {
    col.addEventListener("dragover", function (ev) {
      if (dragged && (transitions[dragged.dataset.stage] || []).indexOf(col.dataset.stage) >= 0) {
        ev.preventDefault();
        col.classList.add("drop-ok");
      }
    });
    col.addEventListener("dragleave", function () { col.classList.remove("drop-ok"); });
    col.addEventListener("drop", function (ev) {
      ev.preventDefault();
      col.classList.remove("drop-ok");
      if (!dragged || dragged.dataset.stage === col.dataset.stage) return;
      var card = dragged;
      dragged = null;
      move(card, col.dataset.stage).catch(fail);
    });
  });

  // ---- history drawer ----
  var list = drawer.querySelector('[data-testid="history-list"]');
  var title = drawer.querySelector('[data-testid="history-title"]');
  var nform = drawer.querySelector('[data-testid="note-form"]');

  function describe(ev) {
    var d = ev.detail || {};
    if (ev.action === "moved") return d.from + " → " + d.to;
    if (ev.action === "assigned" || ev.action === "handed_over") return (d.from || "—") + " → " + (d.to || "—");
    if (ev.action === "transferred" || ev.action === "retitled") return d.from + " → " + d.to;
    if (ev.action === "locked") return "until " + String(d.until).replace("T", " ").slice(0, 19) + " UTC" + (d.took_over_from ? " (took over from " + d.took_over_from + ")" : "");
    if (ev.action === "lock_broken") return d.holder + "'s lock";
    if (ev.action === "created") return "asset " + d.asset_id;
    return "";
  }

  function openHistory(card) {
    var id = card.dataset.id;
    return window.zhimei.api("GET", "/api/desks/items/" + id).then(function (item) {
      drawer.dataset.item = id;
      title.textContent = "记录 History · " + item.title + " (" + item.stage + ", v" + item.version + ")";
      list.textContent = "";
      item.history.forEach(function (ev) {
        var li = document.createElement("li");
        li.setAttribute("data-testid", "history-row");
        li.dataset.action = ev.action;
        var head = document.createElement("div");
        head.className = "history-head";
        var what = document.createElement("strong");
        what.textContent = LABELS[ev.action] || ev.action;
        var who = document.createElement("span");
        who.className = "mono";
        who.textContent = ev.actor;
        var when = document.createElement("time");
        when.className = "muted small";
        when.dateTime = ev.at;
        when.textContent = ev.at.replace("T", " ").slice(0, 19) + " UTC";
        head.append(what, " ", who, " ", when);
        li.appendChild(head);
        var text = describe(ev);
        if (text) { var p = document.createElement("div"); p.className = "small"; p.textContent = text; li.appendChild(p); }
        if (ev.note) { var n = document.createElement("div"); n.className = "history-note"; n.textContent = ev.note; li.appendChild(n); }
        list.appendChild(li);
      });
      drawer.hidden = false;
    });
  }

  drawer.querySelector('[data-action="close-drawer"]').addEventListener("click", function () { drawer.hidden = true; });
  if (nform) {
    nform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var id = drawer.dataset.item;
      window.zhimei.api("POST", "/api/desks/items/" + id + "/notes", { note: nform.elements.note.value })
        .then(function () {
          nform.reset();
          var card = board.querySelector('[data-testid="desk-card"][data-id="' + id + '"]');
          return openHistory(card);
        }).catch(fail);
    });
  }
})();
