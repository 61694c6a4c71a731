/* Datatrust capture page: record audio with MediaRecorder and upload any file resumably
   over tus 1.0 (POST to create, PATCH chunks at Upload-Offset, HEAD to find the offset
   again after a dropped connection), with visible progress. Without this script the page
   still works: the form posts the file as plain multipart. No framework, no build step. */
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form || !window.fetch || !window.Blob) return;
  var CHUNK = 256 * 1024;
  var TUS = { "Tus-Resumable": "1.0.0" };
  var box = document.getElementById("progress-box");
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var csrf = form.dataset.csrf;

  function b64(s) { return btoa(unescape(encodeURIComponent(s))); }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function headers(extra) {
    var h = { "X-CSRF-Token": csrf };
    for (var k in TUS) h[k] = TUS[k];
    for (var e in extra) h[e] = extra[e];
    return h;
  }
  function show(done, total, message) {
    box.hidden = false;
    var pct = total ? Math.floor((done * 100) / total) : 0;
    bar.value = pct;
    text.textContent = message || pct + "%";
  }

  // Where an unfinished upload of this very file lives, so a reload resumes it.
  function key(file) { return "tus:" + form.dataset.campaign + ":" + file.name + ":" + file.size; }

  async function create(file, title) {
    var meta = {
      kind: form.dataset.kind, filename: file.name, campaign: form.dataset.campaign,
      filetype: file.type || "application/octet-stream"
    };
    if (title) meta.title = title;
    var pairs = Object.keys(meta).map(function (k) { return k + " " + b64(meta[k]); });
    var r = await fetch("/files/", {
      method: "POST", credentials: "same-origin",
      headers: headers({ "Upload-Length": String(file.size), "Upload-Metadata": pairs.join(",") })
    });
    if (r.status !== 201) throw new Error(await r.text());
    return r.headers.get("Location");
  }

  async function offsetOf(url) {
    var r = await fetch(url, { method: "HEAD", credentials: "same-origin", headers: headers({}) });
    if (!r.ok) return null;
    return { offset: parseInt(r.headers.get("Upload-Offset"), 10), item: r.headers.get("Datatrust-Item-Id") };
  }

  // Resolves with the new item's id. Network failures wait and resume from the server's offset.
  async function upload(file, title) {
    var url = localStorage.getItem(key(file));
    var state = url ? await offsetOf(url).catch(function () { return null; }) : null;
    if (!state) { url = await create(file, title); state = { offset: 0, item: null }; }
    localStorage.setItem(key(file), url);
    var offset = state.offset, item = state.item, failures = 0;
    show(offset, file.size);
    while (!item) {
      try {
        var r = await fetch(url, {
          method: "PATCH", credentials: "same-origin",
          headers: headers({ "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" }),
          body: file.slice(offset, offset + CHUNK)
        });
        if (r.status === 409) { offset = (await offsetOf(url)).offset; continue; }
        if (!r.ok) throw new Error("status " + r.status);
        offset = parseInt(r.headers.get("Upload-Offset"), 10);
        item = r.headers.get("Datatrust-Item-Id");
        failures = 0;
        show(offset, file.size);
      } catch (err) {
        if (++failures > 30) throw err;
        show(offset, file.size, form.dataset.retry);
        await sleep(Math.min(1000 * failures, 10000));
        var again = await offsetOf(url).catch(function () { return null; });
        if (again) { offset = again.offset; item = again.item; }
      }
    }
    localStorage.removeItem(key(file));
    show(file.size, file.size, form.dataset.done);
    return item;
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

  form.addEventListener("submit", function (ev) {
    var input = form.elements.file;
    if (!input || !input.files || !input.files.length) return; // let the server say what is missing
    ev.preventDefault();
    send(input.files[0]);
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
  var recorder = null, parts = [], blob = null, began = 0, timer = null;

  start.addEventListener("click", async function () {
    var stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = function (e) { if (e.data.size) parts.push(e.data); };
    recorder.onstop = function () {
      stream.getTracks().forEach(function (t) { t.stop(); });
      blob = new Blob(parts, { type: recorder.mimeType || "audio/webm" });
      audio.src = URL.createObjectURL(blob);
      audio.hidden = false;
      sendBtn.disabled = false;
      clearInterval(timer);
    };
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
    var ext = (blob.type.indexOf("ogg") >= 0) ? "ogg" : (blob.type.indexOf("mp4") >= 0 ? "m4a" : "webm");
    var file = new File([blob], "recording-" + began + "." + ext, { type: blob.type });
    send(file);
  });
})();
