// 智能校对 proofreading page: POST /api/proofread, inline marks, accept / reject, the term dictionary.
(function () {
  "use strict";
  const root = document.querySelector('[data-testid="proofread"]');
  if (!root) return;
  const textArea = document.getElementById("pr-text");
  const marked = document.getElementById("pr-marked");
  const status = document.getElementById("pr-status");
  const runBtn = document.getElementById("pr-run");
  const allBtn = document.getElementById("pr-accept-all");
  const langSel = document.getElementById("pr-lang");
  let suggestions = [];
  let proofedText = null;

  const api = window.zhimei.api;  // app.js: CSRF header, JSON body, the server's detail as the error

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    const text = textArea.value;
    marked.replaceChildren();
    let pos = 0;
    suggestions.sort((a, b) => a.start - b.start);
    for (const s of suggestions) {
      if (s.start < pos) continue;
      marked.appendChild(document.createTextNode(text.slice(pos, s.start)));
      const m = el("span", "pr-mark pr-" + s.kind);
      m.setAttribute("data-testid", "pr-mark");
      m.dataset.id = s.id;
      m.dataset.kind = s.kind;
      m.title = s.reason_zh + " / " + s.reason_en + " (" + Math.round(s.confidence * 100) + "%)";
      m.appendChild(el("del", "", s.original));
      const ins = el("ins", "", s.replacement);
      ins.setAttribute("data-testid", "pr-replacement");
      m.appendChild(ins);
      const yes = el("button", "pr-yes", "✓");
      yes.type = "button";
      yes.title = "接受 Accept";
      yes.setAttribute("aria-label", "接受 Accept " + s.original + " → " + s.replacement);
      yes.setAttribute("data-testid", "pr-accept");
      yes.addEventListener("click", () => accept([s]));
      const no = el("button", "pr-no", "✗");
      no.type = "button";
      no.title = "忽略 Reject";
      no.setAttribute("aria-label", "忽略 Reject " + s.original);
      no.setAttribute("data-testid", "pr-reject");
      no.addEventListener("click", () => reject(s));
      m.appendChild(yes);
      m.appendChild(no);
      marked.appendChild(m);
      pos = s.end;
    }
    marked.appendChild(document.createTextNode(text.slice(pos)));
    marked.hidden = false;
    allBtn.disabled = suggestions.length === 0;
    status.textContent = suggestions.length
      ? suggestions.length + " 条建议 suggestions"
      : "没有发现问题 No suggestions";
  }

  function accept(list) {
    let text = textArea.value;
    const chosen = list.slice().sort((a, b) => b.start - a.start);
    for (const s of chosen) {
      if (text.slice(s.start, s.end) !== s.original) continue;
      text = text.slice(0, s.start) + s.replacement + text.slice(s.end);
      const delta = s.replacement.length - (s.end - s.start);
      suggestions = suggestions.filter((o) => o !== s);
      for (const o of suggestions) {
        if (o.start >= s.end) { o.start += delta; o.end += delta; }
      }
    }
    textArea.value = text;
    proofedText = text;
    render();
  }

  function reject(s) {
    suggestions = suggestions.filter((o) => o !== s);
    render();
  }

  async function run() {
    const text = textArea.value;
    if (!text.trim()) { status.textContent = "请先输入文本 Type or paste some text first"; return; }
    runBtn.disabled = true;
    status.textContent = "校对中… Proofreading…";
    try {
      const res = await api("POST", "/api/proofread", { text, lang: langSel.value });
      if (textArea.value !== text) { status.textContent = "文本已修改，请重新校对 The text changed: proofread again"; return; }
      suggestions = res.suggestions;
      proofedText = text;
      render();
      root.setAttribute("data-proofread", "done");
    } catch (e) {
      status.textContent = "出错 Error: " + e.message;
    } finally {
      runBtn.disabled = false;
    }
  }

  runBtn.addEventListener("click", run);
  allBtn.addEventListener("click", () => accept(suggestions.slice()));
  textArea.addEventListener("input", () => {
    if (proofedText !== null && textArea.value !== proofedText) {
      suggestions = [];
      marked.hidden = true;
      allBtn.disabled = true;
      status.textContent = "文本已修改，请重新校对 The text changed: proofread again";
      proofedText = null;
    }
  });

  // ---- term dictionary
  const termsBox = document.querySelector('[data-testid="pr-terms"]');
  const rows = document.getElementById("pr-term-rows");
  const canEdit = termsBox && termsBox.dataset.canEdit === "true";
  async function loadTerms() {
    if (!rows) return;
    try {
      const res = await api("GET", "/api/proofread/terms");
      rows.replaceChildren();
      for (const t of res.terms) {
        const tr = el("tr");
        tr.setAttribute("data-testid", "pr-term-row");
        tr.dataset.term = t.term;
        tr.appendChild(el("td", "", t.term));
        tr.appendChild(el("td", "", t.variants.join("，")));
        const td = el("td");
        if (canEdit) {
          const b = el("button", "btn-link", "删除 Remove");
          b.type = "button";
          b.setAttribute("data-testid", "pr-term-remove");
          b.addEventListener("click", async () => {
            try { await api("DELETE", "/api/proofread/terms?term=" + encodeURIComponent(t.term)); loadTerms(); }
            catch (e) { status.textContent = "出错 Error: " + e.message; }
          });
          td.appendChild(b);
        }
        tr.appendChild(td);
        rows.appendChild(tr);
      }
    } catch (e) {
      status.textContent = "出错 Error: " + e.message;
    }
  }
  const form = document.getElementById("pr-term-form");
  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const term = form.elements.term.value.trim();
      const variants = form.elements.variants.value.split(/[,，;；]/).map((v) => v.trim()).filter(Boolean);
      try {
        await api("POST", "/api/proofread/terms", { term, variants });
        form.reset();
        loadTerms();
      } catch (e) {
        status.textContent = "出错 Error: " + e.message;
      }
    });
  }
  loadTerms();
})();
