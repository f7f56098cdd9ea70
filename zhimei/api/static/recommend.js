// 智能推荐 Recommend page: the channel knob, editors' picks and retrains through the JSON API (window.zhimei.api);
// errors are shown in the message line, the page reloads on success.
(function () {
  "use strict";
  var msg = document.querySelector('[data-testid="rec-msg"]');
  function say(text, isError) {
    if (!msg) return;
    msg.textContent = text;
    msg.classList.toggle("error", !!isError);
  }
  function fail(err) { say(err.message || String(err), true); }
  function num(value) { return value === "" ? null : Number(value); }

  var knob = document.querySelector('[data-testid="knob-form"]');
  if (knob) {
    knob.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var ch = knob.getAttribute("data-channel");
      var url = "/api/recommend/knob" + (ch ? "?channel=" + encodeURIComponent(ch) : "");
      window.zhimei.api("PUT", url, {
        diversity: num(knob.elements.diversity.value), explore_share: num(knob.elements.explore_share.value)
      }).then(function () { window.location.reload(); }, fail);
    });
  }

  var pick = document.querySelector('[data-testid="pick-form"]');
  if (pick) {
    pick.addEventListener("submit", function (ev) {
      ev.preventDefault();
      window.zhimei.api("POST", "/api/recommend/picks", {
        asset_id: Number(pick.elements.asset_id.value), channel: pick.elements.channel.value.trim(),
        rank: Number(pick.elements.rank.value || 0)
      }).then(function () { window.location.reload(); }, fail);
    });
  }

  document.querySelectorAll("[data-remove-pick]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      window.zhimei.api("DELETE", "/api/recommend/picks/" + btn.getAttribute("data-remove-pick"))
        .then(function () { window.location.reload(); }, fail);
    });
  });

  var retrain = document.querySelector('[data-testid="retrain"]');
  if (retrain) {
    retrain.addEventListener("click", function () {
      window.zhimei.api("POST", "/api/recommend/retrain").then(function (r) {
        say("已排队 Queued retrain (job " + r.job_id + ")", false);
      }, fail);
    });
  }
})();
