// 发布 Publish page: create/edit channels, publish (schedule, embargo), withdraw, retry dead letters — all through
// the JSON API (window.zhimei.api), errors shown in the message line, the page reloaded on success.
(function () {
  "use strict";
  var msg = document.querySelector('[data-testid="publish-msg"]');

  function say(text, isError) {
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle("error", !!isError);
  }

  function reloadWith(note) {
    try { sessionStorage.setItem("zhimei-publish-note", note); } catch (e) { /* private mode */ }
    window.location.reload();
  }

  try {
    var note = sessionStorage.getItem("zhimei-publish-note");
    if (note) { say(note, false); sessionStorage.removeItem("zhimei-publish-note"); }
  } catch (e) { /* private mode */ }

  // a datetime-local value is the browser's local time: send it as an absolute ISO time
  function isoOrNull(value) {
    if (!value) return null;
    var d = new Date(value);
    if (isNaN(d.getTime())) throw new Error("时间无效 Not a valid time: " + value);
    return d.toISOString();
  }

  // ---- channels: create, or edit the row chosen ----
  var cform = document.querySelector('[data-testid="channel-form"]');
  if (cform) {
    var cancel = cform.querySelector('[data-testid="channel-cancel"]');
    var heading = cform.querySelector('[data-testid="channel-form-title"]');
    var secretLine = cform.querySelector('[data-testid="channel-secret"]');

    var toCreate = function () {
      cform.dataset.mode = "create";
      cform.reset();
      cform.elements.name.readOnly = false;
      cform.elements.kind.disabled = false;
      heading.textContent = "新渠道 New channel";
      cancel.hidden = true;
    };
    cancel.addEventListener("click", toCreate);

    document.querySelectorAll('[data-action="edit-channel"]').forEach(function (btn) {
      btn.addEventListener("click", function () {
        var row = btn.closest("tr");
        cform.dataset.mode = "edit";
        cform.elements.name.value = row.dataset.name;
        cform.elements.name.readOnly = true;
        cform.elements.kind.value = row.dataset.kind;
        cform.elements.kind.disabled = true;
        cform.elements.title.value = row.dataset.title || "";
        cform.elements.description.value = row.dataset.description || "";
        cform.elements.config.value = JSON.stringify(JSON.parse(row.dataset.config || "{}"), null, 1);
        cform.elements.enabled.checked = row.dataset.enabled === "true";
        heading.textContent = "编辑渠道 Edit channel " + row.dataset.name;
        cancel.hidden = false;
        cform.scrollIntoView({ behavior: "smooth", block: "start" });
      });
    });

    cform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var config = {};
      var raw = cform.elements.config.value.trim();
      if (raw) {
        try { config = JSON.parse(raw); } catch (e) { say("配置不是 JSON Config is not valid JSON: " + e.message, true); return; }
      }
      var body = { title: cform.elements.title.value, description: cform.elements.description.value,
                   config: config, enabled: cform.elements.enabled.checked };
      var name = cform.elements.name.value.trim();
      var call;
      if (cform.dataset.mode === "edit") {
        call = window.zhimei.api("PATCH", "/api/publish/channels/" + encodeURIComponent(name), body);
      } else {
        body.name = name;
        body.kind = cform.elements.kind.value;
        call = window.zhimei.api("POST", "/api/publish/channels", body);
      }
      call.then(function (ch) {
        if (ch.secret) {
          secretLine.hidden = false;
          secretLine.textContent = "签名密钥（仅显示一次）Signing secret (shown once): " + ch.secret;
          say("已创建渠道 Channel " + ch.name + " created. Copy its secret, then reload.", false);
          return;
        }
        reloadWith("已保存渠道 Channel " + ch.name + " saved.");
      }).catch(function (e) { say(e.message, true); });
    });
  }

  // ---- publish / schedule / embargo ----
  var pform = document.querySelector('[data-testid="publish-form"]');
  if (pform) {
    pform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body;
      try {
        body = { asset_id: parseInt(pform.elements.asset_id.value, 10), channel: pform.elements.channel.value,
                 publish_at: isoOrNull(pform.elements.publish_at.value),
                 embargo_until: isoOrNull(pform.elements.embargo_until.value) };
      } catch (e) { say(e.message, true); return; }
      window.zhimei.api("POST", "/api/publish/publications", body).then(function (p) {
        var what = p.visible ? "已发布 Published" : "已排期 Scheduled (live from " + p.live_from + ")";
        reloadWith(what + ": asset " + p.asset_id + " → " + p.channel + (p.created ? "" : " (unchanged: published before)"));
      }).catch(function (e) { say(e.message, true); });
    });
  }

  // ---- withdraw, retry ----
  document.querySelectorAll('[data-action="withdraw"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var row = btn.closest("tr");
      var reason = window.prompt("撤回原因 Reason for withdrawing publication " + row.dataset.id + "?", "");
      if (reason === null) return;
      window.zhimei.api("POST", "/api/publish/publications/" + row.dataset.id + "/withdraw", { reason: reason })
        .then(function () { reloadWith("已撤回 Publication " + row.dataset.id + " withdrawn."); })
        .catch(function (e) { say(e.message, true); });
    });
  });
  document.querySelectorAll('[data-action="retry"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var row = btn.closest("tr");
      window.zhimei.api("POST", "/api/publish/deliveries/" + row.dataset.id + "/retry")
        .then(function () { reloadWith("已重新排队 Delivery " + row.dataset.id + " queued again."); })
        .catch(function (e) { say(e.message, true); });
    });
  });
})();
