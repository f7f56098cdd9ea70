// 智媒 zhimei — one small script: click-to-seek, live job progress, upload progress. No build step.
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var STATUS_LABELS = {
    blocked: "等待 Blocked", queued: "排队 Queued", running: "运行 Running", done: "完成 Done",
    failed: "失败 Failed", cancelled: "已取消 Cancelled"
  };
  var ACTIVE = { blocked: 1, queued: 1, running: 1 };

  // ---- one JSON API call for the page scripts: CSRF header, JSON body, the server's `detail` as the error
  // (with its HTTP status and body as err.status and err.data) ----
  window.zhimei = window.zhimei || {};
  window.zhimei.api = function (method, url, body) {
    var opts = { method: method, headers: { "x-csrf-token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok) {
          var detail = data && data.detail;
          var err = new Error(typeof detail === "string" ? detail
            : (detail ? JSON.stringify(detail) : (resp.status + " " + resp.statusText)));
          err.status = resp.status;  // callers tell conflicts (409) and field problems (422) apart
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  };

  // ---- seeking: shots, timed segments and keyframes carry data-start (seconds) ----
  function seek(seconds) {
    var player = document.getElementById("player");
    if (!player || !isFinite(seconds)) return;
    if (player.readyState === 0) {
      player.addEventListener("loadedmetadata", function () { player.currentTime = seconds; }, { once: true });
      if (player.preload === "none") player.load();
    }
    player.currentTime = seconds;
  }

  function seekTarget(el) {
    return el && el.closest ? el.closest(".shot[data-start], .segment.seekable[data-start], .seek[data-start]") : null;
  }

  document.addEventListener("click", function (ev) {
    var target = seekTarget(ev.target);
    if (!target) return;
    ev.preventDefault();
    seek(parseFloat(target.getAttribute("data-start")));
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    var target = seekTarget(ev.target);
    if (target && target.classList.contains("segment")) {
      ev.preventDefault();
      seek(parseFloat(target.getAttribute("data-start")));
    }
  });

  // /assets/N?t=12.5 (from a person's appearances): start the player there
  var startAt = parseFloat(new URLSearchParams(window.location.search).get("t"));
  if (isFinite(startAt) && startAt >= 0) seek(startAt);

  // highlight the shot and the segment under the playhead
  var player = document.getElementById("player");
  if (player) {
    var marked = [];
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime;
      marked.forEach(function (el) { el.classList.remove("current"); });
      marked = [];
      [".shot[data-start]", ".segment.seekable[data-start]"].forEach(function (sel) {
        var best = null;
        document.querySelectorAll(sel).forEach(function (el) {
          if (parseFloat(el.getAttribute("data-start")) <= t + 0.05) best = el;
        });
        if (best) { best.classList.add("current"); marked.push(best); }
      });
    });
  }

  // ---- search hits play in place: a hit's timecode loads its proxy into the inline player and plays there ----
  function seekAndPlay(media, seconds) {
    media.addEventListener("seeked", function () {
      media.setAttribute("data-seeked-to", media.currentTime.toFixed(2));
    }, { once: true });
    var go = function () {
      media.currentTime = seconds;
      var playing = media.play();
      if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the player shows controls */ });
    };
    if (media.readyState === 0) {
      media.addEventListener("loadedmetadata", go, { once: true });
      media.preload = "metadata";
      media.load();
    } else {
      go();
    }
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target && ev.target.closest ? ev.target.closest(".hit-seek[data-start]") : null;
    if (!button) return;
    var hit = button.closest(".hit");
    var media = hit ? hit.querySelector(".hit-player") : null;
    if (!media) return;
    ev.preventDefault();
    document.querySelectorAll(".hit-player").forEach(function (other) {
      if (other !== media && !other.paused) other.pause();
    });
    if (!media.getAttribute("src")) media.setAttribute("src", media.getAttribute("data-src"));
    media.parentNode.hidden = false;
    hit.querySelectorAll(".hit-seek").forEach(function (b) { b.classList.remove("current"); });
    button.classList.add("current");
    seekAndPlay(media, parseFloat(button.getAttribute("data-start")));
  });

  // ---- live job progress: poll the jobs endpoint every second while a job is active ----
  var table = document.querySelector("[data-live-src]");
  if (table && table.getAttribute("data-live") === "1") {
    var src = table.getAttribute("data-live-src");
    var reload = table.getAttribute("data-reload-when-done") === "1";
    var timer = null;
    var update = function (job) {
      var row = table.querySelector('[data-job-id="' + job.id + '"]');
      if (!row) return;
      row.setAttribute("data-status", job.status);
      var badge = row.querySelector('[data-field="status"]');
      if (badge) {
        badge.textContent = STATUS_LABELS[job.status] || job.status;
        badge.className = "badge status status-" + job.status;
      }
      var bar = row.querySelector('[data-field="progress"]');
      if (bar) bar.value = job.progress;
      var pct = row.querySelector('[data-field="pct"]');
      if (pct) pct.textContent = Math.round(job.progress) + "%";
      var msg = row.querySelector('[data-field="message"]');
      if (msg) msg.textContent = job.last_error || job.message || "";
    };
    var poll = function () {
      fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (data) {
          data.items.forEach(update);
          var active = data.items.some(function (j) { return ACTIVE[j.status]; });
          if (!active) {
            clearInterval(timer);
            table.setAttribute("data-live", "0");
            if (reload) window.location.replace(window.location.pathname);
          }
        })
        .catch(function () { /* a missed beat; try again next second */ });
    };
    timer = setInterval(poll, 1000);
  }

  // ---- upload with a progress bar (the form still works without this script) ----
  var form = document.getElementById("upload-form");
  if (form && window.XMLHttpRequest && window.FormData) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var bar = form.querySelector(".upload-progress");
      var status = form.querySelector(".upload-status");
      var button = form.querySelector('button[type="submit"]');
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/assets");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      button.disabled = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total;
      });
      xhr.addEventListener("load", function () {
        button.disabled = false;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { detail: xhr.statusText }; }
        if (xhr.status === 200 || xhr.status === 201) {
          var items = body.items || [];
          var ok = items.filter(function (i) { return !i.error; });
          var bad = items.filter(function (i) { return i.error; });
          if (ok.length === 1 && !bad.length) { window.location.href = "/assets/" + ok[0].asset_id + "?notice=uploaded"; return; }
          if (!bad.length) { window.location.href = "/?notice=uploaded"; return; }
          status.textContent = bad.map(function (i) { return i.name + ": " + i.error; }).join("; ");
          status.className = "upload-status error";
        } else {
          status.textContent = (xhr.status + " ") + (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
          status.className = "upload-status error";
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        status.textContent = "上传中断 The upload was interrupted.";
        status.className = "upload-status error";
      });
      xhr.send(new FormData(form));
    });
  }
})();
