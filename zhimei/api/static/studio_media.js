// 智能创作 studio media pages: smart clips (拆条), subtitles, covers, voice-over and rough cuts (依案成片). No inline scripts (CSP script-src 'self').
(function () {
  "use strict";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  const api = window.zhimei.api;  // app.js: CSRF header, JSON body, the server's detail as the error

  function fmt(t) {
    t = Math.max(0, Number(t) || 0);
    const m = Math.floor(t / 60), s = t - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }

  function progressId() {
    const a = new Uint8Array(8);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // poll a render's progress into a <progress> until stop() is called
  function watchProgress(id, bar) {
    let stopped = false;
    bar.hidden = false;
    bar.value = 0;
    (async function loop() {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 400));
        if (stopped) break;
        try {
          const resp = await fetch("/api/studio/media/progress/" + id, { credentials: "same-origin" });
          if (resp.ok) bar.value = (await resp.json()).percent;
        } catch (e) { /* next tick */ }
      }
    })();
    return () => { stopped = true; bar.value = 100; };
  }

  function outputFigure(out, label) {
    const video = el("video", { class: "sm-out-player", "data-testid": "clip-player", controls: true,
      preload: "auto", src: out.media_url, "data-asset-id": out.asset_id });
    return el("figure", { class: "sm-output", "data-testid": "output", "data-asset-id": out.asset_id }, video,
      el("figcaption", { class: "small" },
        el("a", { href: out.url, text: "#" + out.asset_id + " " + (label || out.title) }),
        el("span", { class: "badge sm-ai", "data-testid": "ai-mark", text: "AI 生成 AI-generated" }),
        el("span", { class: "badge", "data-testid": "review-status", text: "待审 review " + (out.review_status || "pending") })));
  }

  // ------------------------------------------------------------------ clips page
  function clipsPage(root) {
    const id = root.dataset.assetId;
    const canEdit = root.dataset.canEdit === "true";
    const list = document.getElementById("sm-clip-list");
    const status = document.getElementById("sm-status");
    const source = document.getElementById("sm-source");
    let stopAt = null;
    source.addEventListener("timeupdate", () => {
      if (stopAt !== null && source.currentTime >= stopAt) { source.pause(); stopAt = null; }
    });

    function clipItem(c, i) {
      const title = el("input", { type: "text", class: "sm-title", "data-testid": "clip-title", maxlength: 300,
        value: c.title, "aria-label": "title" });
      const start = el("input", { type: "number", step: "0.1", min: 0, class: "sm-time", "data-testid": "clip-start",
        value: c.start, "aria-label": "start" });
      const end = el("input", { type: "number", step: "0.1", min: 0, class: "sm-time", "data-testid": "clip-end",
        value: c.end, "aria-label": "end" });
      const preview = el("button", { type: "button", class: "btn small", "data-testid": "clip-preview", text: "预览 Preview" });
      preview.addEventListener("click", () => {
        source.currentTime = Number(start.value);
        stopAt = Number(end.value);
        source.play().catch(() => {});
      });
      const parts = Object.entries(c.parts || {}).map(([k, v]) => k + " " + v.toFixed(2)).join(" · ");
      const li = el("li", { class: "sm-clip", "data-testid": "clip", "data-start": c.start, "data-end": c.end },
        el("div", { class: "sm-clip-head" }, el("span", { class: "sm-n", text: String(i + 1) }), title,
          el("span", { class: "badge", "data-testid": "clip-score", title: parts, text: "score " + c.score.toFixed(2) })),
        el("div", { class: "sm-clip-times small" }, el("span", { text: "起 Start " }), start, el("span", { text: " 止 End " }), end,
          el("span", { class: "muted", text: " (" + fmt(c.start) + "–" + fmt(c.end) + ", " + c.duration.toFixed(1) + " s)" }), preview),
        el("p", { class: "small sm-summary", "data-testid": "clip-summary", text: c.summary }));
      if (canEdit) {
        const vertical = el("input", { type: "checkbox", "data-testid": "clip-vertical" });
        const captions = el("input", { type: "checkbox", "data-testid": "clip-captions", checked: true });
        const go = el("button", { type: "button", class: "btn small primary", "data-testid": "clip-export", text: "导出 Export MP4" });
        const bar = el("progress", { max: 100, value: 0, "data-testid": "clip-progress", hidden: true });
        const note = el("span", { class: "small muted", role: "status" });
        const outs = el("div", { class: "sm-outputs", "data-testid": "clip-outputs" });
        go.addEventListener("click", async () => {
          go.disabled = true;
          note.textContent = "渲染中 Rendering…";
          const pid = progressId();
          const stop = watchProgress(pid, bar);
          try {
            const out = await api("POST", "/api/studio/media/clips/" + id + "/export", {
              start: Number(start.value), end: Number(end.value), vertical: vertical.checked,
              captions: captions.checked, title: title.value, progress_id: pid });
            note.textContent = "完成 Done in " + out.render_seconds.toFixed(1) + " s";
            outs.prepend(outputFigure(out, (vertical.checked ? "9:16 " : "16:9 ") + title.value));
          } catch (e) {
            note.textContent = "失败 Failed: " + e.message;
          } finally {
            stop();
            go.disabled = false;
          }
        });
        li.append(el("div", { class: "sm-export small" },
          el("label", {}, vertical, el("span", { text: " 竖屏 9:16 Vertical" })),
          el("label", {}, captions, el("span", { text: " 字幕 Captions" })), go, bar, note), outs);
      }
      return li;
    }

    document.getElementById("sm-make").addEventListener("click", async (ev) => {
      const btn = ev.currentTarget;
      btn.disabled = true;
      status.textContent = "分析中 Finding clips…";
      try {
        const data = await api("POST", "/api/studio/media/clips/" + id, {
          min_seconds: Number(document.getElementById("sm-min").value),
          max_seconds: Number(document.getElementById("sm-max").value) });
        list.replaceChildren(...data.clips.map(clipItem));
        status.textContent = data.clips.length + " 个片段 clips · " + data.seconds.toFixed(1) + " s";
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      } finally {
        btn.disabled = false;
      }
    });
  }

  // ------------------------------------------------------------------ subtitles page
  function subtitlesPage(root) {
    const id = root.dataset.assetId;
    const rows = document.getElementById("sm-cue-rows");
    const status = document.getElementById("sm-status");
    const violations = document.getElementById("sm-violations");
    const target = document.getElementById("sm-target");
    const outputs = document.getElementById("sm-outputs");
    const source = document.getElementById("sm-source");
    let language = root.dataset.language || "";
    let edited = false;

    function cps(c) {
      const text = c.lines.join(language === "zh" ? "" : " ").replace(language === "zh" ? /\s/g : /^$/, "");
      const d = c.end - c.start;
      return d > 0 ? text.length / d : 0;
    }

    function readCues() {
      return Array.from(rows.querySelectorAll("tr")).map((tr) => ({
        start: Number(tr.querySelector(".sm-s").value), end: Number(tr.querySelector(".sm-e").value),
        lines: tr.querySelector("textarea").value.split("\n").map((x) => x.trim()).filter(Boolean) }));
    }

    function showViolations(vs) {
      violations.replaceChildren(...vs.map((v) => el("li", { "data-testid": "violation", "data-cue": v.cue,
        text: "#" + v.cue + " " + v.rule + ": " + v.detail })));
      rows.querySelectorAll("tr").forEach((tr) => tr.classList.remove("sm-bad"));
      vs.forEach((v) => { const tr = rows.children[v.cue - 1]; if (tr) tr.classList.add("sm-bad"); });
      status.textContent = (rows.children.length) + " 条 cues · " + vs.length + " 处违规 rule violations";
      violations.dataset.count = String(vs.length);
    }

    function fill(track) {
      language = track.language;
      rows.replaceChildren(...track.cues.map((c, i) => {
        const ta = el("textarea", { rows: Math.max(1, c.lines.length), "data-testid": "cue-text", "aria-label": "cue " + (i + 1) });
        ta.value = c.lines.join("\n");
        const tr = el("tr", { "data-testid": "cue" },
          el("td", { text: String(i + 1) }),
          el("td", {}, el("input", { type: "number", step: "0.01", class: "sm-s sm-time", value: c.start, "aria-label": "start" })),
          el("td", {}, el("input", { type: "number", step: "0.01", class: "sm-e sm-time", value: c.end, "aria-label": "end" })),
          el("td", {}, ta), el("td", { class: "small muted", text: cps(c).toFixed(1) }));
        tr.addEventListener("click", (ev) => { if (ev.target.tagName === "TD") { source.currentTime = c.start; } });
        return tr;
      }));
      edited = false;
      showViolations(track.violations);
      if (track.notes && track.notes.length) status.textContent += " · " + track.notes.join("; ");
    }

    async function load() {
      status.textContent = "生成中 Generating…";
      try {
        const q = target.value ? "?target=" + encodeURIComponent(target.value) : "";
        fill(await api("GET", "/api/studio/media/subtitles/" + id + q));
        const track = document.getElementById("sm-track");
        if (track) track.src = "/api/studio/media/subtitles/" + id + "/track.vtt" + q;
        document.getElementById("sm-download").href = "/api/studio/media/subtitles/" + id + "/track.srt" + q;
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      }
    }

    rows.addEventListener("input", () => { edited = true; });
    document.getElementById("sm-load").addEventListener("click", load);
    document.getElementById("sm-check").addEventListener("click", async () => {
      try {
        const data = await api("POST", "/api/studio/media/subtitles/check", { cues: readCues(), language: language || null });
        showViolations(data.violations);
      } catch (e) { status.textContent = "失败 Failed: " + e.message; }
    });

    function body(extra) {
      return Object.assign({ target: target.value || null, language: language || null,
        cues: edited ? readCues() : null }, extra);
    }

    async function save(format) {
      status.textContent = "保存中 Saving…";
      try {
        const out = await api("POST", "/api/studio/media/subtitles/" + id + "/save", body({ format }));
        outputs.prepend(el("p", { "data-testid": "saved-track" }, el("a", { href: out.url, text: "#" + out.asset_id + " " + out.title }),
          el("span", { class: "badge sm-ai", text: "AI 生成 AI-generated" }), el("span", { class: "badge", text: "待审 review pending" })));
        status.textContent = "已保存 Saved as asset #" + out.asset_id;
      } catch (e) { status.textContent = "失败 Failed: " + e.message; }
    }

    const srt = document.getElementById("sm-save-srt");
    if (srt) {
      srt.addEventListener("click", () => save("srt"));
      document.getElementById("sm-save-vtt").addEventListener("click", () => save("vtt"));
      document.getElementById("sm-burn").addEventListener("click", async (ev) => {
        const btn = ev.currentTarget;
        btn.disabled = true;
        status.textContent = "烧录中 Rendering…";
        const pid = progressId();
        const stop = watchProgress(pid, document.getElementById("sm-progress"));
        try {
          const out = await api("POST", "/api/studio/media/subtitles/" + id + "/burn", body({ progress_id: pid }));
          outputs.prepend(outputFigure(out));
          status.textContent = "完成 Done: asset #" + out.asset_id;
        } catch (e) {
          status.textContent = "失败 Failed: " + e.message;
        } finally { stop(); btn.disabled = false; }
      });
    }
    if (document.getElementById("sm-track")) load();
  }

  // ------------------------------------------------------------------ covers page
  function coversPage(root) {
    const id = root.dataset.assetId;
    const status = document.getElementById("sm-status");
    const frames = document.getElementById("sm-frames");
    const grid = document.getElementById("sm-covers");
    api("GET", "/api/studio/media/covers/" + id + "/frames").then((data) => {
      frames.replaceChildren(...data.frames.map((f, i) => el("li", { class: "sm-frame", "data-testid": "cover-frame" },
        el("img", { src: f.thumb_url, alt: "keyframe " + f.time.toFixed(1) + " s", loading: "lazy" }),
        el("span", { class: "small", text: "#" + (i + 1) + " " + f.time.toFixed(1) + " s · " + f.score.toFixed(2),
          title: "sharpness " + f.sharpness.toFixed(2) + " · exposure " + f.exposure.toFixed(2) + " · faces " +
            f.faces.toFixed(2) + " · little text " + f.text.toFixed(2) }))));
    }).catch((e) => { status.textContent = "失败 Failed: " + e.message; });
    const go = document.getElementById("sm-make-covers");
    if (!go) return;
    go.addEventListener("click", async () => {
      go.disabled = true;
      status.textContent = "生成中 Composing…";
      try {
        const aspects = Array.from(document.querySelectorAll(".sm-aspect")).filter((x) => x.checked).map((x) => x.value);
        const data = await api("POST", "/api/studio/media/covers/" + id, { title: document.getElementById("sm-cover-title").value,
          aspects, variants: Number(document.getElementById("sm-variants").value) });
        grid.replaceChildren(...data.covers.map((c) => el("figure", { class: "sm-cover", "data-testid": "cover", "data-aspect": c.aspect },
          el("img", { src: c.media_url, alt: c.aspect + " v" + c.variant }),
          el("figcaption", { class: "small" }, el("a", { href: c.url, text: c.aspect + " · v" + c.variant + " · " + c.layout }),
            el("span", { class: "badge sm-ai", "data-testid": "ai-mark", text: "AI 生成" })))));
        status.textContent = data.covers.length + " 张封面 covers (待审 review pending)";
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      } finally { go.disabled = false; }
    });
  }

  // ------------------------------------------------------------------ voice-over page
  function voicePage() {
    const go = document.getElementById("sm-vo-go");
    const status = document.getElementById("sm-status");
    if (!go) return;
    go.addEventListener("click", async () => {
      go.disabled = true;
      status.textContent = "合成中 Speaking…";
      try {
        const ids = document.getElementById("sm-vo-sources").value.split(/[\s,，]+/).filter(Boolean).map(Number);
        const out = await api("POST", "/api/studio/media/voiceover", { text: document.getElementById("sm-script").value || null,
          sources: ids, language: document.getElementById("sm-vo-lang").value || null,
          backend: document.getElementById("sm-vo-backend").value });
        document.getElementById("sm-vo-out").prepend(el("figure", { class: "sm-output", "data-testid": "vo-output" },
          el("audio", { controls: true, src: out.media_url, "data-testid": "vo-player" }),
          el("figcaption", { class: "small" }, el("a", { href: out.url, text: "#" + out.asset_id + " · " + out.backend + " · " +
            out.seconds.toFixed(1) + " s" }), el("span", { class: "badge sm-ai", text: "AI 生成 AI-generated" }))));
        status.textContent = "完成 Done" + (out.notes.length ? " · " + out.notes.join("; ") : "");
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      } finally { go.disabled = false; }
    });
  }

  // ------------------------------------------------------------------ rough-cut page (依案成片)
  function roughcutPage(root) {
    const canEdit = root.dataset.canEdit === "true";
    const status = document.getElementById("sm-status");
    const list = document.getElementById("sm-rc-beats");
    const actions = document.getElementById("sm-rc-actions");
    const total = document.getElementById("sm-rc-total");
    let timeline = null;

    function download(name, type, text) {
      const url = URL.createObjectURL(new Blob([text], { type }));
      const a = el("a", { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    }

    function sumUp() {
      const t = read();
      const secs = t.beats.reduce((acc, b) => acc + (b.clips.length
        ? b.clips.reduce((x, c) => x + Math.max(0, c.end - c.start), 0) : b.duration), 0);
      total.textContent = t.beats.length + " 段 beats · " + secs.toFixed(1) + " s · " +
        t.beats.filter((b) => !b.clips.length).length + " 缺镜头 missing";
    }

    function beatItem(b) {
      const text = el("textarea", { rows: 2, class: "sm-rc-text", "data-testid": "rc-beat-text", "aria-label": "beat " + b.index });
      text.value = b.text;
      const li = el("li", { class: "sm-clip" + (b.missing ? " sm-rc-missing" : ""), "data-testid": "rc-beat",
        "data-missing": b.missing ? "true" : "false" },
        el("div", { class: "sm-clip-head" }, el("span", { class: "sm-n", text: String(b.index) }),
          el("span", { class: "small muted", text: fmt(b.start) + " · " + b.duration.toFixed(2) + " s" }),
          b.missing ? el("span", { class: "badge sm-rc-miss", "data-testid": "rc-missing", title: b.reason || "",
            text: "缺镜头 missing → 字幕卡 title card" }) : null),
        text);
      if (b.missing) {
        li.append(el("p", { class: "small muted", "data-testid": "rc-reason", text: b.reason || "" }));
        li.append(el("label", { class: "small" }, el("span", { text: "时长 Length " }),
          el("input", { type: "number", step: "0.04", min: 0.5, max: 90, class: "sm-time sm-rc-dur", value: b.duration,
            "data-testid": "rc-card-duration", "aria-label": "title card length" }), el("span", { text: " s" })));
      }
      const clips = el("ul", { class: "sm-rc-clips" });
      for (const c of b.clips) {
        const start = el("input", { type: "number", step: "0.04", min: 0, class: "sm-time sm-rc-in", value: c.start,
          "data-testid": "rc-clip-start", "aria-label": "in" });
        const end = el("input", { type: "number", step: "0.04", min: 0, class: "sm-time sm-rc-out", value: c.end,
          "data-testid": "rc-clip-end", "aria-label": "out" });
        clips.append(el("li", { class: "sm-rc-clip", "data-testid": "rc-clip", "data-asset-id": c.asset_id },
          c.thumb_url ? el("img", { src: c.thumb_url, alt: "shot " + c.shot, loading: "lazy", class: "sm-rc-thumb" }) : null,
          el("div", { class: "small" },
            el("a", { href: c.url, text: "#" + c.asset_id + " " + c.asset_title }),
            el("span", { class: "muted", text: " · " + c.match + (c.on_cuts[0] ? " · 切点 on cut" : "") }),
            el("div", {}, el("span", { text: "入 In " }), start, el("span", { text: " 出 Out " }), end),
            c.text ? el("div", { class: "muted", text: "“" + c.text.slice(0, 120) + "”" }) : null)));
      }
      li.append(clips);
      li._beat = b;
      return li;
    }

    function read() {
      const beats = Array.from(list.children).map((li) => {
        const b = li._beat;
        const clips = Array.from(li.querySelectorAll(".sm-rc-clip")).map((node, k) => Object.assign({}, b.clips[k], {
          start: Number(node.querySelector(".sm-rc-in").value), end: Number(node.querySelector(".sm-rc-out").value) }));
        const dur = li.querySelector(".sm-rc-dur");
        return Object.assign({}, b, { text: li.querySelector(".sm-rc-text").value, clips,
          duration: dur ? Number(dur.value) : b.duration });
      });
      return Object.assign({}, timeline, { beats });
    }

    function show(t) {
      timeline = t;
      list.replaceChildren(...t.beats.map(beatItem));
      actions.hidden = false;
      sumUp();
    }
    list.addEventListener("input", sumUp);

    document.getElementById("sm-rc-plan").addEventListener("click", async (ev) => {
      const btn = ev.currentTarget;
      btn.disabled = true;
      status.textContent = "检索中 Planning…";
      try {
        const data = await api("POST", "/api/studio/roughcut/plan", { script: document.getElementById("sm-script").value,
          language: document.getElementById("sm-rc-lang").value || null,
          per_beat: Number(document.getElementById("sm-rc-per").value) || 2,
          loose: document.getElementById("sm-rc-loose").checked });
        show(data.timeline);
        status.textContent = "完成 Planned in " + data.seconds.toFixed(1) + " s" +
          (data.timeline.notes.length ? " · " + data.timeline.notes.join("; ") : "");
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      } finally { btn.disabled = false; }
    });

    document.getElementById("sm-rc-edl").addEventListener("click", async () => {
      try {
        const resp = await fetch("/api/studio/roughcut/edl", { method: "POST", credentials: "same-origin",
          headers: { "x-csrf-token": csrf, "content-type": "application/json" }, body: JSON.stringify({ timeline: read() }) });
        const text = await resp.text();
        if (!resp.ok) {
          let detail = text;
          try { detail = JSON.parse(text).detail; } catch (e) { /* plain text */ }
          throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
        }
        download("roughcut.edl", "text/plain", text);
        status.textContent = "EDL 已下载 downloaded";
      } catch (e) { status.textContent = "失败 Failed: " + e.message; }
    });
    document.getElementById("sm-rc-json").addEventListener("click", () => {
      download("roughcut.json", "application/json", JSON.stringify(read(), null, 2));
    });

    const go = document.getElementById("sm-rc-render");
    if (!go || !canEdit) return;
    go.addEventListener("click", async () => {
      go.disabled = true;
      status.textContent = "渲染中 Rendering…";
      const pid = progressId();
      const stop = watchProgress(pid, document.getElementById("sm-progress"));
      try {
        const out = await api("POST", "/api/studio/roughcut/render", { timeline: read(), progress_id: pid,
          vertical: document.getElementById("sm-rc-vertical").checked,
          captions: document.getElementById("sm-rc-captions").checked,
          voice: document.getElementById("sm-rc-voice").checked });
        document.getElementById("sm-rc-out").prepend(outputFigure(out));
        status.textContent = "完成 Done in " + out.render_seconds.toFixed(1) + " s: asset #" + out.asset_id;
      } catch (e) {
        status.textContent = "失败 Failed: " + e.message;
      } finally { stop(); go.disabled = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const clips = document.querySelector('[data-page="clips"]');
    if (clips) clipsPage(clips);
    const subs = document.querySelector('[data-page="subtitles"]');
    if (subs) subtitlesPage(subs);
    const covers = document.querySelector('[data-page="covers"]');
    if (covers) coversPage(covers);
    if (document.querySelector('[data-page="voiceover"]')) voicePage();
    const rough = document.querySelector('[data-page="roughcut"]');
    if (rough) roughcutPage(rough);
  });
})();
