// 智能创作 Studio page: pick sources, run a task (streamed over server-sent events), compare variants, edit, save.
(function () {
  "use strict";
  const root = document.querySelector("[data-testid=studio-page]");
  if (!root) return;
  const task = root.dataset.task;
  const canEdit = root.dataset.canEdit === "true";
  const csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const els = {
    q: $("st-q"), sources: $("st-sources"), text: $("st-text"), run: $("st-run"), progress: $("st-progress"),
    status: $("st-status"), stream: $("st-stream"), variants: $("st-variants"), paragraphs: $("st-paragraphs"),
    notes: $("st-notes"), calls: $("st-calls"), edit: $("st-edit"), save: $("st-save"), saved: $("st-saved"),
    method: $("st-method-used"), backend: $("st-backend"),
  };
  let result = null;
  let chosen = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  async function loadBackends() {
    try {
      const r = await fetch("/api/studio/tasks", { credentials: "same-origin" });
      if (!r.ok) return;
      const data = await r.json();
      for (const b of data.backends) {
        const o = el("option", b.name + (b.remote ? " (remote)" : "") + (b.ready ? "" : " — not ready"));
        o.value = b.name;
        o.disabled = !b.ready;
        els.backend.appendChild(o);
      }
    } catch (e) { /* the default backend still works */ }
  }

  async function loadSources() {
    const q = els.q.value.trim();
    const r = await fetch("/api/studio/sources?limit=100&q=" + encodeURIComponent(q), { credentials: "same-origin" });
    els.sources.textContent = "";
    if (!r.ok) { els.sources.appendChild(el("li", "无法加载 Could not load sources")); return; }
    const data = await r.json();
    if (!data.items.length) els.sources.appendChild(el("li", "没有含文本的资产 No assets with text", "muted"));
    for (const a of data.items) {
      const li = el("li");
      const label = el("label");
      const cb = el("input");
      cb.type = "checkbox";
      cb.value = String(a.id);
      cb.dataset.testid = "studio-source-" + a.id;
      cb.setAttribute("data-testid", "studio-source-" + a.id);
      label.appendChild(cb);
      label.appendChild(document.createTextNode(" #" + a.id + " " + (a.title || "(untitled)") + " · " + a.kind +
        (a.ai_generated ? " · AI" : "")));
      li.appendChild(label);
      els.sources.appendChild(li);
    }
  }

  function body() {
    const ids = Array.from(els.sources.querySelectorAll("input:checked")).map((c) => parseInt(c.value, 10));
    const b = { sources: ids };
    if (!ids.length && els.text && els.text.value.trim()) b.text = els.text.value;
    const v = (id) => { const e = $(id); return e ? e.value : null; };
    if (v("st-method")) b.method = v("st-method");
    if (v("st-n")) b.n = parseInt(v("st-n"), 10);
    if (v("st-length")) b.length = v("st-length");
    if (v("st-style")) b.style = v("st-style");
    if (v("st-target")) b.target = v("st-target");
    if (els.backend.value) b.backend = els.backend.value;
    return b;
  }

  function reset() {
    result = null; chosen = null;
    els.stream.textContent = ""; els.variants.textContent = ""; els.paragraphs.textContent = "";
    els.notes.textContent = ""; els.calls.textContent = ""; els.method.textContent = ""; els.saved.textContent = "";
    els.edit.value = ""; els.save.disabled = true;
  }

  function showVariants(variants) {
    els.variants.textContent = "";
    variants.forEach((v, i) => {
      const li = el("li");
      li.setAttribute("data-testid", "studio-variant");
      li.appendChild(el("span", v.text));
      li.appendChild(el("span", v.method + (v.note ? " · " + v.note : ""), "st-vmethod"));
      li.addEventListener("click", () => choose(i));
      els.variants.appendChild(li);
    });
  }

  function choose(i) {
    chosen = i;
    Array.from(els.variants.children).forEach((li, j) => li.classList.toggle("chosen", j === i));
    if (result) els.edit.value = result.variants[i].text;
  }

  function showResult(r) {
    result = r;
    els.method.textContent = "方法 method: " + r.method + " · " + r.backend + "/" + r.model + (r.cached ? " · cached" : "");
    els.stream.textContent = "";
    if (r.task === "headlines") { showVariants(r.variants); choose(0); } else { els.edit.value = r.text; }
    if (r.task === "headlines") els.edit.value = r.variants.length ? r.variants[0].text : "";
    if (r.task === "draft" && r.extra && r.extra.paragraphs) {
      els.paragraphs.textContent = "";
      for (const p of r.extra.paragraphs) {
        const para = el("p");
        for (const s of p.sentences) {
          const span = el("span", s.text, s.supported ? "" : "st-unsupported");
          if (!s.supported) span.title = "来源不支持 Not supported by the cited source (" + s.support + ")";
          para.appendChild(span);
        }
        para.appendChild(el("span", p.citation, "st-cite"));
        els.paragraphs.appendChild(para);
      }
    }
    for (const n of r.notes || []) els.notes.appendChild(el("li", n));
    for (const c of r.calls || []) {
      if (c.tokens_out !== undefined) {
        els.calls.appendChild(el("li", c.backend + ": " + c.tokens_in + " tokens in, " + c.tokens_out + " out, " +
          Number(c.seconds).toFixed(2) + " s"));
      } else if (c.error) { els.calls.appendChild(el("li", c.error)); }
    }
    els.save.disabled = !canEdit || !r.key;
  }

  function onEvent(type, data) {
    if (type === "progress") {
      els.progress.max = data.total || 1; els.progress.value = data.done || 0;
      els.status.textContent = data.message ? data.message : "";
    } else if (type === "token") {
      els.stream.textContent += data.text;
    } else if (type === "variant_start") {
      if (els.stream.textContent) els.stream.textContent += "\n";
    } else if (type === "paragraph") {
      els.stream.textContent += "\n";
    } else if (type === "result") {
      showResult(data);
      els.status.textContent = "完成 Done";
    } else if (type === "error") {
      els.status.textContent = "错误 Error: " + data.detail;
    }
  }

  async function run() {
    reset();
    els.run.disabled = true;
    els.progress.hidden = false; els.progress.value = 0;
    els.status.textContent = "运行中 Running…";
    try {
      const r = await fetch("/api/studio/" + task + "/stream", {
        method: "POST", credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body()),
      });
      if (!r.ok) {
        let detail = r.statusText;
        try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (e) { /* keep */ }
        els.status.textContent = "错误 Error: " + detail;
        return;
      }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
          let type = "message"; let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(type, JSON.parse(data));
        }
      }
    } catch (e) {
      els.status.textContent = "错误 Error: " + e;
    } finally {
      els.run.disabled = !canEdit;
      els.progress.hidden = true;
    }
  }

  async function save() {
    if (!result) return;
    els.save.disabled = true;
    const b = { key: result.key };
    const edited = els.edit.value;
    if (result.task === "headlines" && chosen !== null && edited === result.variants[chosen].text) b.variant = chosen;
    else b.text = edited;
    const r = await fetch("/api/studio/save", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(b),
    });
    const j = await r.json().catch(() => ({}));
    els.saved.textContent = "";
    if (r.ok) {
      els.saved.appendChild(document.createTextNode("已保存，待审核 Saved, review pending: "));
      const a = el("a", "#" + j.asset_id);
      a.href = j.url;
      a.setAttribute("data-testid", "studio-saved-link");
      els.saved.appendChild(a);
    } else {
      els.saved.textContent = "保存失败 Save failed: " + (j.detail || r.statusText);
    }
    els.save.disabled = false;
  }

  let timer = null;
  els.q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(loadSources, 250); });
  els.run.addEventListener("click", run);
  els.save.addEventListener("click", save);
  loadBackends();
  loadSources();
})();
