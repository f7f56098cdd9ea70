// 实验 experiments page: start an experiment, promote a variant, stop one — through the JSON API.
(function () {
  "use strict";
  var api = window.zhimei && window.zhimei.api;
  if (!api) return;

  var form = document.getElementById("exp-create");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var msg = document.getElementById("exp-create-msg");
      msg.textContent = "";
      var body = {
        asset_id: parseInt(form.elements.asset_id.value, 10),
        kind: form.elements.kind.value,
        name: form.elements.name.value,
        auto_promote: form.elements.auto_promote.checked
      };
      var texts = form.elements.texts.value.split("\n").map(function (t) { return t.trim(); })
        .filter(function (t) { return t; });
      if (texts.length) body.texts = texts;
      var covers = form.elements.covers.value.split(/[\s,]+/).filter(function (t) { return t; })
        .map(function (t) { return parseInt(t, 10); });
      if (covers.length) body.cover_asset_ids = covers;
      if (form.elements.min_impressions.value !== "") body.min_impressions = parseInt(form.elements.min_impressions.value, 10);
      var button = form.querySelector("[type=submit]");
      button.disabled = true;
      api("POST", "/api/experiments", body).then(function () {
        window.location.reload();
      }).catch(function (err) {
        msg.textContent = err.message;
        button.disabled = false;
      });
    });
  }

  function act(button, url, body) {
    var section = button.closest(".exp");
    var msg = section ? section.querySelector(".exp-msg") : null;
    button.disabled = true;
    api("POST", url, body).then(function () {
      window.location.reload();
    }).catch(function (err) {
      if (msg) msg.textContent = err.message;
      button.disabled = false;
    });
  }

  document.addEventListener("click", function (ev) {
    var promote = ev.target.closest ? ev.target.closest("button.promote") : null;
    if (promote) {
      act(promote, "/api/experiments/" + promote.getAttribute("data-experiment-id") + "/promote",
          { variant_id: parseInt(promote.getAttribute("data-variant-id"), 10) });
      return;
    }
    var stop = ev.target.closest ? ev.target.closest("button.stop") : null;
    if (stop && window.confirm("停止实验？ Stop this experiment without a winner?")) {
      act(stop, "/api/experiments/" + stop.getAttribute("data-experiment-id") + "/stop");
    }
  });
})();
