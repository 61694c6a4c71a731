/* Datatrust capture page: record audio with MediaRecorder and upload any file resumably
   over tus 1.0 with tus-js-client (vendor/tus-js-client, loaded before this script):
   chunks of 256 KiB, each with an Upload-Checksum (SHA-1) the server verifies, visible
   progress, retries after a dropped connection, and the upload's address kept in
   localStorage so that choosing the same file again after a closed tab or a reload resumes
   it. Without JavaScript the form posts the file as plain multipart. */
(function () {
  "use strict";
  var form = document.getElementById("upload");
  var tus = window.tus;
  if (!form || !tus || !tus.isSupported) return;
  var CHUNK = 256 * 1024;
  // Retries after a dropped connection, a server hiccup or a refused checksum (the bytes
  // were damaged on the way): up to about three minutes, then the upload is reported failed.
  var RETRY_DELAYS = [0, 1000, 2000, 3000, 5000, 5000, 10000, 10000, 10000, 10000, 10000,
    10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000];
  var box = document.getElementById("progress-box");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var csrf = form.dataset.csrf;
  var subtle = window.crypto && window.crypto.subtle;

  function show(done, total, message) {
    box.hidden = false;
    var pct = total ? Math.floor((done * 100) / total) : 0;
    bar.value = pct;
    text.textContent = message || pct + "%";
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }

  // tus's checksum extension: each PATCH carries "Upload-Checksum: sha1 <base64>" of its
  // body, and the server keeps a chunk only when it matches (460 otherwise). tus-js-client
  // has no option for it, so its HTTP stack is wrapped: the digest is taken of the very
  // body handed to send(). Browsers offer SHA-1 only on https or localhost (crypto.subtle);
  // elsewhere chunks go without a checksum, which the server accepts.
  function ChecksumStack(inner) { this.inner = inner; }
  ChecksumStack.prototype.getName = function () { return "datatrust-checksum"; };
  ChecksumStack.prototype.createRequest = function (method, url) {
    var req = this.inner.createRequest(method, url);
    if (method !== "PATCH" || !subtle) return req;
    var send = req.send.bind(req);
    req.send = function (body) {
      if (!body || !body.arrayBuffer) return send(body);
      return body.arrayBuffer()
        .then(function (buffer) { return subtle.digest("SHA-1", buffer); })
        .then(function (digest) {
          req.setHeader("Upload-Checksum", "sha1 " + base64(digest));
          return send(body);
        });
    };
    return req;
  };

  function retryable(err) {
    var res = err && err.originalResponse;
    if (!res) return true; // the connection dropped: try again
    var status = res.getStatus();
    return status === 409 || status === 423 || status === 460 || status >= 500;
  }

  // Resolves with the new item's id (the server names it on the PATCH that completes the
  // upload, or on the HEAD of an upload completed before).
  function upload(file, title) {
    return new Promise(function (resolve, reject) {
      var item = null;
      var meta = {
        kind: form.dataset.kind, filename: file.name, campaign: form.dataset.campaign,
        filetype: file.type || "application/octet-stream"
      };
      if (title) meta.title = title;
      var task = new tus.Upload(file, {
        endpoint: "/files/",
        chunkSize: CHUNK,
        retryDelays: RETRY_DELAYS,
        metadata: meta,
        headers: { "X-CSRF-Token": csrf },
        httpStack: new ChecksumStack(new tus.DefaultHttpStack()),
        // The same file for the same task resumes; another task starts its own upload.
        fingerprint: function (f) {
          return Promise.resolve(["datatrust", form.dataset.campaign, f.name, f.type,
            f.size, f.lastModified].join("/"));
        },
        removeFingerprintOnSuccess: true,
        onShouldRetry: function (err) {
          if (!retryable(err)) return false;
          show(bar.value, 100, form.dataset.retry);
          return true;
        },
        onAfterResponse: function (req, res) {
          var id = res.getHeader("Datatrust-Item-Id");
          if (id) item = id;
        },
        onProgress: function (sent, total) { show(sent, total); },
        onError: reject,
        onSuccess: function () {
          show(file.size, file.size, form.dataset.done);
          if (item) resolve(item); else reject(new Error("no item"));
        }
      });
      task.findPreviousUploads().then(function (previous) {
        if (previous.length) task.resumeFromPreviousUpload(previous[0]);
        show(0, 1);
        task.start();
      }, reject);
    });
  }

  // Consent with the task's offer (one POST, like withdrawing), then the item's page.
  function finish(item) {
    if (!form.dataset.offer) { location.href = "/my/items/" + item; return; }
    var f = document.createElement("form");
    f.method = "post";
    f.action = "/my/items/" + item + "/consent";
    [["csrf_token", csrf], ["offer_id", form.dataset.offer]].forEach(function (p) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = p[0]; i.value = p[1];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  }

  function send(file) {
    var title = (form.elements.title || {}).value || "";
    return upload(file, title).then(finish, function () { show(0, 1, form.dataset.failed); });
  }

  // The task's rules checked in the browser first (precheck.js): a file they refuse is
  // not sent, and the page says why in its language. The server checks again.
  function checked(file, seconds) {
    var pre = window.datatrustPrecheck;
    if (!pre) return Promise.resolve(true);
    return pre.check(file, form, seconds).then(function (problem) {
      pre.show(form, problem);
      return !problem;
    });
  }

  form.addEventListener("submit", function (ev) {
    var input = form.elements.file;
    if (!input || !input.files || !input.files.length) return; // let the server say what is missing
    ev.preventDefault();
    var file = input.files[0];
    checked(file).then(function (ok) { if (ok) send(file); });
  });

  // --- the recorder ---------------------------------------------------------------------
  var rec = document.getElementById("recorder");
  if (!rec || !window.MediaRecorder || !navigator.mediaDevices) return;
  rec.hidden = false;
  var start = document.getElementById("rec-start");
  var stop = document.getElementById("rec-stop");
  var sendBtn = document.getElementById("rec-send");
  var audio = document.getElementById("rec-audio");
  var clock = document.getElementById("rec-time");
  var recorder = null, parts = [], blob = null, began = 0, timer = null, seconds = 0;

  function recording() {
    var ext = (blob.type.indexOf("ogg") >= 0) ? "ogg" : (blob.type.indexOf("mp4") >= 0 ? "m4a" : "webm");
    return new File([blob], "recording-" + began + "." + ext, { type: blob.type });
  }

  start.addEventListener("click", async function () {
    var stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = function (e) { if (e.data.size) parts.push(e.data); };
    recorder.onstop = function () {
      stream.getTracks().forEach(function (t) { t.stop(); });
      blob = new Blob(parts, { type: recorder.mimeType || "audio/webm" });
      seconds = (Date.now() - began) / 1000;
      audio.src = URL.createObjectURL(blob);
      audio.hidden = false;
      clearInterval(timer);
      checked(recording(), seconds).then(function (ok) { sendBtn.disabled = !ok; });
    };
    if (window.datatrustPrecheck) window.datatrustPrecheck.show(form, null);
    recorder.start(250);
    began = Date.now();
    timer = setInterval(function () { clock.textContent = Math.round((Date.now() - began) / 1000) + " s"; }, 500);
    start.disabled = true; stop.disabled = false; sendBtn.disabled = true;
  });
  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    start.disabled = false; stop.disabled = true;
  });
  sendBtn.addEventListener("click", function () {
    if (!blob) return;
    sendBtn.disabled = true;
    var file = recording();
    checked(file, seconds).then(function (ok) { if (ok) send(file); });
  });
})();
