// 舆情 insight dashboard: charts drawn as inline SVG from the JSON API (no libraries), watchlist admin.
(function () {
  "use strict";
  var api = window.zhimei && window.zhimei.api;
  var SVG = "http://www.w3.org/2000/svg";
  var W = 560, H = 220, PAD = { l: 48, r: 12, t: 12, b: 34 };
  var status = document.getElementById("insight-status");

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function note(container, text, testid) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "muted chart-note";
    p.setAttribute("data-testid", testid || "chart-note");
    p.textContent = text;
    container.appendChild(p);
  }

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k";
    return (Math.round(v * 100) / 100).toString();
  }

  function shortDate(iso) { return String(iso).slice(5, 10); }

  // points: [{label, values: {key: number|null}}]; series: [{key, label, cls}]
  function lineChart(container, id, points, series, opts) {
    opts = opts || {};
    container.textContent = "";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", role: "img",
                          "data-testid": id + "-svg", "aria-label": opts.title || id });
    var max = opts.max;
    if (max === undefined) {
      max = 0;
      points.forEach(function (p) { series.forEach(function (s) { var v = p.values[s.key]; if (v > max) max = v; }); });
      max = max > 0 ? max * 1.1 : 1;
    }
    var iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    function x(i) { return PAD.l + (points.length === 1 ? iw / 2 : (i * iw) / (points.length - 1)); }
    function y(v) { return PAD.t + ih - (v / max) * ih; }
    for (var g = 0; g <= 4; g++) {  // grid and y labels
      var gv = (max * g) / 4;
      svg.appendChild(el("line", { x1: PAD.l, x2: W - PAD.r, y1: y(gv), y2: y(gv), class: "grid-line" }));
      svg.appendChild(el("text", { x: PAD.l - 6, y: y(gv) + 4, class: "axis-label", "text-anchor": "end" }, fmt(gv)));
    }
    var step = Math.max(1, Math.ceil(points.length / 8));
    points.forEach(function (p, i) {
      if (i % step === 0 || i === points.length - 1) {
        var anchor = points.length > 1 && i === points.length - 1 ? "end" : (i === 0 && points.length > 1 ? "start" : "middle");
        svg.appendChild(el("text", { x: x(i), y: H - 12, class: "axis-label", "text-anchor": anchor }, p.label));
      }
    });
    series.forEach(function (s) {
      var d = "";
      points.forEach(function (p, i) {
        var v = p.values[s.key];
        if (v === null || v === undefined) return;
        d += (d ? " L " : "M ") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      });
      if (d) svg.appendChild(el("path", { d: d, class: "series-line " + s.cls, "data-series": s.key }));
      points.forEach(function (p, i) {
        var v = p.values[s.key];
        if (v === null || v === undefined) return;
        var c = el("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3.5, class: "series-point " + s.cls,
                               "data-testid": id + "-point", "data-series": s.key, "data-bucket": p.bucket,
                               "data-value": v });
        c.appendChild(el("title", {}, s.label + " " + p.bucket + ": " + fmt(v)));
        svg.appendChild(c);
      });
    });
    container.appendChild(svg);
    var legend = document.createElement("div");
    legend.className = "chart-legend";
    series.forEach(function (s) {
      var item = document.createElement("span");
      item.className = "legend-item " + s.cls;
      item.textContent = s.label;
      legend.appendChild(item);
    });
    container.appendChild(legend);
  }

  function barChart(container, id, bars, opts) {
    opts = opts || {};
    container.textContent = "";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", role: "img",
                          "data-testid": id + "-svg", "aria-label": opts.title || id });
    var max = 0;
    bars.forEach(function (b) { if (b.value > max) max = b.value; });
    max = max > 0 ? max * 1.15 : 1;
    var iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    var bw = Math.min(60, iw / Math.max(1, bars.length) * 0.7);
    for (var g = 0; g <= 4; g++) {
      var gv = (max * g) / 4, gy = PAD.t + ih - (gv / max) * ih;
      svg.appendChild(el("line", { x1: PAD.l, x2: W - PAD.r, y1: gy, y2: gy, class: "grid-line" }));
      svg.appendChild(el("text", { x: PAD.l - 6, y: gy + 4, class: "axis-label", "text-anchor": "end" },
                         opts.percent ? (gv * 100).toFixed(1) + "%" : fmt(gv)));
    }
    bars.forEach(function (b, i) {
      var cx = PAD.l + (iw * (i + 0.5)) / bars.length, h = (b.value / max) * ih;
      var r = el("rect", { x: (cx - bw / 2).toFixed(1), y: (PAD.t + ih - h).toFixed(1), width: bw.toFixed(1),
                           height: Math.max(0, h).toFixed(1), class: "bar" + (b.winner ? " winner" : ""),
                           "data-testid": id + "-bar", "data-label": b.label, "data-value": b.value,
                           "data-variant": b.variant === undefined ? "" : b.variant });
      r.appendChild(el("title", {}, b.label + ": " + (opts.percent ? (b.value * 100).toFixed(2) + "%" : fmt(b.value))));
      svg.appendChild(r);
      if (b.low !== undefined && b.high !== undefined && b.high > b.low) {  // confidence interval
        svg.appendChild(el("line", { x1: cx, x2: cx, y1: PAD.t + ih - (b.high / max) * ih,
                                     y2: PAD.t + ih - (b.low / max) * ih, class: "ci-line" }));
      }
      svg.appendChild(el("text", { x: cx, y: H - 12, class: "axis-label", "text-anchor": "middle" },
                         String(b.label).slice(0, 16)));
    });
    container.appendChild(svg);
  }

  function sinceDays(days) { return new Date(Date.now() - days * 86400000).toISOString(); }
  // on a story's page the charts show that story only
  var storyBox = document.querySelector("[data-story-scope]");
  var storyParam = storyBox ? "&story_id=" + encodeURIComponent(storyBox.getAttribute("data-story-scope")) : "";

  // ---- reach over time ----
  var reachBox = document.getElementById("chart-reach");
  var totalsBox = document.getElementById("reach-totals");
  var daysSel = document.getElementById("reach-days");
  var chanSel = document.getElementById("reach-channel");

  function loadReach() {
    if (!reachBox) return;
    var days = parseInt(daysSel ? daysSel.value : "30", 10) || 30;
    var channel = chanSel && chanSel.value ? "&channel=" + encodeURIComponent(chanSel.value) : "";
    api("GET", "/api/insight/reach?bucket=day&since=" + encodeURIComponent(sinceDays(days)) + storyParam + channel).then(function (data) {
      if (chanSel && !channel) {  // the channels seen in this period
        var have = {};
        Array.prototype.forEach.call(chanSel.options, function (o) { have[o.value] = 1; });
        data.by_channel.forEach(function (c) {
          if (!c.channel || have[c.channel]) return;
          var o = document.createElement("option");
          o.value = c.channel;
          o.textContent = c.channel;
          chanSel.appendChild(o);
        });
      }
      if (!data.series.length) { note(reachBox, "暂无互动数据 No engagement in this period.", "reach-empty"); }
      else {
        var points = data.series.map(function (r) {
          return { label: shortDate(r.bucket_start), bucket: r.bucket_start,
                   values: { impressions: r.impressions, clicks: r.clicks, plays: r.plays, shares: r.shares } };
        });
        lineChart(reachBox, "reach", points, [
          { key: "impressions", label: "曝光 Impressions", cls: "s1" }, { key: "clicks", label: "点击 Clicks", cls: "s2" },
          { key: "plays", label: "播放 Plays", cls: "s3" }, { key: "shares", label: "分享 Shares", cls: "s4" }
        ], { title: "reach over time" });
      }
      var t = data.totals;
      totalsBox.textContent = "";
      [["impressions", "曝光 Impressions"], ["clicks", "点击 Clicks"], ["ctr", "点击率 CTR"], ["plays", "播放 Plays"],
       ["watch_seconds", "观看秒数 Watch s"], ["shares", "分享 Shares"]].forEach(function (kv) {
        var span = document.createElement("span");
        span.className = "total";
        span.setAttribute("data-testid", "reach-total");
        span.setAttribute("data-metric", kv[0]);
        span.setAttribute("data-value", t[kv[0]] === null ? "" : t[kv[0]]);
        span.textContent = kv[1] + " " + (kv[0] === "ctr" ? (t.ctr === null ? "—" : (t.ctr * 100).toFixed(2) + "%") : fmt(t[kv[0]]));
        totalsBox.appendChild(span);
      });
    }).catch(function (err) { note(reachBox, "无法加载 Could not load reach: " + err.message, "reach-error"); });
  }
  if (daysSel) daysSel.addEventListener("change", loadReach);
  if (chanSel) chanSel.addEventListener("change", loadReach);

  // ---- sentiment trend ----
  function loadSentiment() {
    var box = document.getElementById("chart-sentiment");
    if (!box) return;
    api("GET", "/api/insight/sentiment?bucket=day&since=" + encodeURIComponent(sinceDays(30)) + storyParam).then(function (data) {
      if (!data.series.length) { note(box, "暂无情感数据 No scored items in the last 30 days.", "sentiment-empty"); return; }
      var points = data.series.map(function (r) {
        return { label: shortDate(r.bucket_start), bucket: r.bucket_start,
                 values: { sentiment: r.sentiment, negative_share: r.negative_share } };
      });
      lineChart(box, "sentiment", points, [
        { key: "sentiment", label: "正面概率 Positive (mean)", cls: "s2" },
        { key: "negative_share", label: "负面占比 Negative share", cls: "s5" }
      ], { max: 1, title: "sentiment trend" });
    }).catch(function (err) { note(box, "无法加载 Could not load sentiment: " + err.message, "sentiment-error"); });
  }

  // ---- CTR per variant ----
  function loadVariants() {
    var box = document.getElementById("chart-variants");
    if (!box) return;
    api("GET", "/api/insight/variants").then(function (data) {
      if (!data.available) { note(box, data.note, "variants-note"); return; }
      var bars = [];
      (data.experiments || []).forEach(function (exp) {
        (exp.variants || []).forEach(function (v) {
          bars.push({ label: (v.label || v.id) + " " + String(v.text || "").slice(0, 12), value: v.ctr || 0,
                      low: v.ci_low, high: v.ci_high, winner: !!v.winner, experiment: exp.id, variant: v.id });
        });
      });
      if (!bars.length) { note(box, "暂无实验 No experiments with impressions yet.", "variants-empty"); return; }
      barChart(box, "variants", bars.slice(0, 12), { percent: true, title: "CTR per variant" });
    }).catch(function (err) { note(box, "无法加载 Could not load experiments: " + err.message, "variants-error"); });
  }

  // ---- heat bars in the stories table ----
  var maxHeat = 0;
  document.querySelectorAll(".heat-bar[data-heat]").forEach(function (b) {
    maxHeat = Math.max(maxHeat, parseFloat(b.getAttribute("data-heat")) || 0);
  });
  document.querySelectorAll(".heat-bar[data-heat]").forEach(function (b) {
    var h = parseFloat(b.getAttribute("data-heat")) || 0;
    b.style.width = (maxHeat > 0 ? Math.round((h / maxHeat) * 60) : 0) + "px";
  });

  // ---- watchlists ----
  var form = document.getElementById("watchlist-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var fd = new FormData(form);
      var body = {
        name: String(fd.get("name") || "").trim(), kind: fd.get("kind"),
        terms: String(fd.get("terms") || "").split(/[,，、;；\n]/).map(function (t) { return t.trim(); })
          .filter(function (t) { return t; }),
        webhook_url: String(fd.get("webhook_url") || "").trim(),
        min_volume: parseInt(fd.get("min_volume"), 10) || 3
      };
      api("POST", "/api/insight/watchlists", body).then(function (w) {
        var out = document.getElementById("watchlist-secret");
        out.textContent = "已添加 Added “" + w.name + "”. 签名密钥 Signing secret (shown once): " + w.secret;
        out.setAttribute("data-created", String(w.id));
        setTimeout(function () { window.location.reload(); }, 4000);
      }).catch(function (err) { status.textContent = "添加失败 Could not add: " + err.message; });
    });
  }
  document.querySelectorAll("[data-delete-watchlist]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var id = btn.getAttribute("data-delete-watchlist");
      if (!window.confirm("删除此监测清单及其告警？ Remove this watchlist and its alerts?")) return;
      api("DELETE", "/api/insight/watchlists/" + id).then(function () { window.location.reload(); })
        .catch(function (err) { status.textContent = "删除失败 Could not remove: " + err.message; });
    });
  });
  var refresh = document.getElementById("insight-refresh");
  if (refresh) {
    refresh.addEventListener("click", function () {
      api("POST", "/api/insight/refresh").then(function (r) {
        status.textContent = "已排队 Queued as job #" + r.job_id + "; reload when it is done.";
      }).catch(function (err) { status.textContent = "失败 Failed: " + err.message; });
    });
  }

  if (api) { loadReach(); loadSentiment(); loadVariants(); }
})();
