// In-page camera scanner for /scan (progressive enhancement: without JavaScript the page says so
// and people use their camera app). The camera starts only when the button is pressed. A decoded
// QR code whose URL path is /c/<payload> or /C/<payload>, on any host (the printed host may be the
// production name while this page runs elsewhere), opens /c/<payload> on this origin; anything else
// is reported and scanning goes on. All texts come from the template's data-* attributes.
// Needs the vendored qr-scanner (global QrScanner), loaded with defer before this file.
(function () {
  "use strict";
  var box = document.getElementById("scanner");
  var button = document.getElementById("scan-start");
  var status = document.getElementById("scan-status");
  var view = document.getElementById("scan-view");
  var video = document.getElementById("scan-video");
  if (!box || !button || !status || !view || !video) { return; }

  var PATH = /^\/[cC]\/([A-Za-z2-7]+)\/?$/;
  var lang = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  var scanner = null;
  var running = false;   // camera on (or starting)
  var busy = false;      // a start is in progress
  var leaving = false;   // navigating to a result

  function text(name) { return box.getAttribute("data-" + name) || ""; }

  function say(name, tone) {
    var value = text("msg-" + name);
    if (status.textContent !== value) { status.textContent = value; }  // no repeated announcements
    status.className = "check scan-status" + (tone ? " " + tone : "");
  }

  function setRunning(on) {
    running = on;
    button.textContent = text(on ? "label-stop" : "label-start");
    view.hidden = !on;
  }

  // The landing path for a scanned text, or null when it is not one of our certificate URLs.
  function landingPath(raw) {
    var url;
    try { url = new URL(String(raw).trim()); } catch (e) { return null; }
    if (url.protocol !== "https:" && url.protocol !== "http:") { return null; }
    var match = PATH.exec(url.pathname);
    return match ? "/c/" + match[1] + "?lang=" + lang : null;
  }

  function onDecode(result) {
    if (leaving || !running) { return; }
    var path = landingPath(result && typeof result === "object" ? result.data : result);
    if (!path) { say("not-ours", "bad"); return; }  // keep scanning
    leaving = true;
    say("found", "ok");
    stopCamera();
    window.location.assign(path);  // same origin: a path, never the scanned host
  }

  // Most of the picture (the library looks at the middle 2/3 only, which misses a code held
  // close to the camera), scaled down to at most 480 px square for the decoder.
  function scanRegion(v) {
    var side = Math.round(0.9 * Math.min(v.videoWidth, v.videoHeight));
    var scaled = Math.min(side, 480);
    return {
      x: Math.round((v.videoWidth - side) / 2), y: Math.round((v.videoHeight - side) / 2),
      width: side, height: side, downScaledWidth: scaled, downScaledHeight: scaled
    };
  }

  function stopCamera() {
    if (scanner) {
      scanner.pause(true);  // releases the camera at once (stop() alone waits 300 ms)
      scanner.stop();
    }
    setRunning(false);
  }

  // qr-scanner reports every failure to open the camera as "Camera not found.", so ask the
  // browser why: permission state first (not every browser can tell), then the list of cameras.
  function explain() {
    var permission;
    try {
      permission = navigator.permissions.query({ name: "camera" }).then(function (p) { return p.state; });
    } catch (e) {
      permission = Promise.reject(e);
    }
    return permission.then(null, function () { return "unknown"; }).then(function (state) {
      if (state === "denied") { return "denied"; }
      return window.QrScanner.hasCamera().then(function (has) { return has ? "failed" : "no-camera"; },
                                               function () { return "failed"; });
    });
  }

  function start() {
    if (!window.QrScanner || !window.isSecureContext || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia) {
      say("unsupported", "bad");
      return;
    }
    busy = true;
    setRunning(true);  // the video must be visible before qr-scanner looks at it
    say("starting");
    if (!scanner) {
      scanner = new window.QrScanner(video, onDecode, {
        returnDetailedScanResult: true,
        preferredCamera: "environment",
        maxScansPerSecond: 10,
        calculateScanRegion: scanRegion,
        // "No QR code found" on most frames; a decoder hiccup (timeout) is retried on the next one.
        onDecodeError: function () {}
      });
    }
    scanner.start().then(function () {
      // a code may already have been read while start() was finishing
      if (running && !leaving && status.textContent === text("msg-starting")) { say("scanning"); }
    }, function () {
      stopCamera();
      return explain().then(function (why) { say(why, "bad"); }, function () { say("failed", "bad"); });
    }).then(function () { busy = false; });
  }

  // The one button starts the camera and, while it runs (or is still starting), stops it.
  button.addEventListener("click", function () {
    if (leaving) { return; }
    if (running) {
      stopCamera();
      status.textContent = "";
      status.className = "check scan-status";
    } else if (!busy) {
      start();
    }
  });

  // Leaving the page (or hiding it in the back/forward cache) turns the camera off; coming back
  // from that cache shows the start button again rather than reopening the camera unasked.
  window.addEventListener("pagehide", function () { if (running) { stopCamera(); } });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      leaving = false;
      busy = false;
      setRunning(false);
      status.textContent = "";
    }
  });

  setRunning(false);
  box.hidden = false;
})();
