// Progressive enhancement only: checks the certificate number while it is typed, with the
// server's own rules (GET /api/v1/codes/{number}); the form works the same without it.
(function () {
  "use strict";
  var input = document.querySelector("[data-check-number]");
  var out = document.getElementById("number-check");
  if (!input || !out || !window.fetch) { return; }
  var lang = document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en";
  var timer = null;
  var seq = 0;
  function show(text, ok) {
    out.textContent = text;
    out.className = "check " + (ok ? "ok" : "bad");
  }
  function check() {
    var value = input.value.trim();
    if (value.length < 6) { out.textContent = ""; out.className = "check"; return; }
    var mine = ++seq;
    fetch("/api/v1/codes/" + encodeURIComponent(value), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (mine !== seq) { return; }
        if (body.valid) {
          var level = body.parts && body.parts.level ? " · " + body.parts.level.name : "";
          show((lang === "zh" ? "格式正确：" : "Format OK: ") + body.canonical + level, true);
        } else {
          var first = (body.problems || [])[0];
          var msg = first ? (lang === "zh" ? first.message_zh : first.message_en) : "";
          var more = (body.problems || []).length > 1 ? (lang === "zh" ? "（另有 " : " (+") + ((body.problems.length - 1) + (lang === "zh" ? " 处问题）" : " more)")) : "";
          show(msg + more, false);
        }
      })
      .catch(function () { out.textContent = ""; });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
})();
