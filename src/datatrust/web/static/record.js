/* Datatrust capture page: record audio with MediaRecorder and upload any file resumably
   over tus 1.0 with tus-js-client (vendor/tus-js-client, loaded before this script):
   chunks of 256 KiB, each with an Upload-Checksum (SHA-1) the server verifies, visible
   progress, and retries after a dropped connection.
   - A chosen file: the upload's address is kept in localStorage, so that choosing the
     same file again after a closed tab or a reload resumes it.
   - A recording made here: kept in this browser (recordings.js) as soon as it stops, with
     its upload's address once the server gives one, and forgotten once uploaded. Opening
     the task's page again lists what was not uploaded, to resume (from the server's
     offset) or discard (here, and on the server by tus termination).
   Without JavaScript the form posts the file as plain multipart. */
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
  var account = form.dataset.account || "";
  var campaign = form.dataset.campaign;
  var subtle = window.crypto && window.crypto.subtle;
  var pre = window.datatrustPrecheck;
  // This person's recordings kept in this browser (null where IndexedDB is refused).
  var kept = window.datatrustRecordings
    ? window.datatrustRecordings.open(account)
    : Promise.resolve(null);

  function remember(id, changes) {
    return kept.then(function (store) { return store && store.update(id, changes); })
      .catch(function () { return null; });
  }

  function forget(id) {
    return kept.then(function (store) { return store && store.forget(id); })
      .catch(function () { return null; });
  }

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

  // 409 with the problem code upload.busy: another tab or device is sending this very
  // upload now (the same file resumed twice). Trying again is refused again for as long as
  // that one sends, then finds the upload complete, so this tab stops and says why in the
  // page's words (data-busy, the server's text for that code in the reader's language).
  function busyElsewhere(err) {
    var res = err && err.originalResponse;
    if (!res || res.getStatus() !== 409) return false;
    try {
      var problems = JSON.parse(res.getBody() || "{}").problems || [];
      return problems.some(function (p) { return p && p.code === "upload.busy"; });
    } catch (e) {
      return false; // not the server's problem JSON: an ordinary conflict, retried
    }
  }

  // Resolves with the new item's id (the server names it on the PATCH that completes the
  // upload, or on the HEAD of an upload completed before). ``keep``: a recording kept in
  // this browser ({id, url}), whose upload resumes from the address kept with it, is told
  // each step (its address, the bytes the server holds) and is forgotten once done.
  function upload(file, title, keep) {
    keep = keep || {};
    var recording = keep.id != null;
    return new Promise(function (resolve, reject) {
      var item = null;
      var meta = {
        kind: form.dataset.kind, filename: file.name, campaign: campaign,
        filetype: file.type || "application/octet-stream"
      };
      if (title) meta.title = title;
      var options = {
        endpoint: "/files/",
        chunkSize: CHUNK,
        retryDelays: RETRY_DELAYS,
        metadata: meta,
        headers: { "X-CSRF-Token": csrf },
        httpStack: new ChecksumStack(new tus.DefaultHttpStack()),
        // The same file for the same task and person resumes; another task or another
        // person signed in on this browser starts its own upload.
        fingerprint: function (f) {
          return Promise.resolve(["datatrust", account, campaign, f.name, f.type,
            f.size, f.lastModified].join("/"));
        },
        removeFingerprintOnSuccess: true,
        storeFingerprintForResuming: !recording, // a recording's address is kept with it
        onUploadUrlAvailable: function () {
          if (recording) remember(keep.id, { url: task.url });
        },
        onChunkComplete: function (size, accepted) {
          if (recording) remember(keep.id, { sent: accepted });
        },
        onShouldRetry: function (err) {
          if (busyElsewhere(err) || !retryable(err)) return false;
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
          (recording ? forget(keep.id) : Promise.resolve()).then(function () {
            if (item) resolve(item); else reject(new Error("no item"));
          });
        }
      };
      if (keep.url) options.uploadUrl = keep.url;
      var task = new tus.Upload(file, options);
      if (recording) { show(0, 1); task.start(); return; }
      task.findPreviousUploads().then(function (previous) {
        if (previous.length) task.resumeFromPreviousUpload(previous[0]);
        show(0, 1);
        task.start();
      }, reject);
    });
  }

  // Consent with the task's offer (one POST, like withdrawing), then the item's page.
  function finish(item, offer) {
    if (!offer) { location.href = "/my/items/" + item; return; }
    var f = document.createElement("form");
    f.method = "post";
    f.action = "/my/items/" + item + "/consent";
    [["csrf_token", csrf], ["offer_id", offer]].forEach(function (p) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = p[0]; i.value = p[1];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  }

  function send(file, title, keep) {
    var offer = (keep && keep.offer) || form.dataset.offer;
    return upload(file, title, keep).then(function (item) { finish(item, offer); return true; },
      function (err) {
        show(0, 1, busyElsewhere(err) ? form.dataset.busy : form.dataset.failed);
        return false;
      });
  }

  // The task's rules checked in the browser first (precheck.js): a file they refuse is
  // not sent, and the page says why in its language. The server checks again.
  function checked(file, seconds) {
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
    var title = (form.elements.title || {}).value || "";
    checked(file).then(function (ok) { if (ok) send(file, title); });
  });

  // --- recordings kept in this browser that were not uploaded -----------------------------
  var unfinished = document.getElementById("unfinished");
  var list = document.getElementById("unfinished-list");
  var entry = document.getElementById("unfinished-entry");
  var said = document.getElementById("unfinished-status");
  var elsewhere = document.getElementById("unfinished-elsewhere");
  var others = document.getElementById("unfinished-other-list");
  var other = document.getElementById("unfinished-other");
  var lang = form.dataset.lang || document.documentElement.lang || "en";

  function percent(part, whole) {
    var share = whole ? Math.min(part / whole, 1) : 0;
    try {
      return new Intl.NumberFormat(lang, { style: "percent" }).format(share);
    } catch (e) {
      return Math.floor(share * 100) + "%";
    }
  }

  function keptFile(record) {
    return new File([record.data], record.name,
      { type: record.type, lastModified: record.lastModified });
  }

  // Deleted on the server too when an upload was begun (tus termination); a server that
  // cannot be reached lets the staged bytes expire. Deleted here either way.
  function discard(record) {
    var ended = record.url
      ? tus.Upload.terminate(record.url,
        { headers: { "X-CSRF-Token": csrf }, retryDelays: [0, 1000, 3000] })
      : Promise.resolve();
    return ended.catch(function () { return null; }).then(function () { return forget(record.id); });
  }

  // "Your recording of 20 seconds has not finished uploading: 80% sent.", in the page's
  // language.
  function saidOf(record) {
    var whole = Math.round(record.seconds);
    var patterns = JSON.parse(form.dataset.seconds || "null");
    var length = pre ? pre.seconds(whole, lang, patterns) : whole + " s";
    return unfinished.dataset.sentence.replace("{duration}", length)
      .replace("{percent}", percent(record.sent || 0, record.size));
  }

  // Another task's recording: a link to that task's page, where it resumes.
  function listedElsewhere(record) {
    var li = other.content.firstElementChild.cloneNode(true);
    var link = li.querySelector("a");
    link.href = record.page || "/tasks/" + record.campaign;
    link.textContent = record.task || link.href;
    li.querySelector(".unfinished-text").textContent = saidOf(record);
    return li;
  }

  function listed(record) {
    var li = entry.content.firstElementChild.cloneNode(true);
    var file = keptFile(record);
    li.querySelector(".unfinished-text").textContent = saidOf(record);
    li.querySelector("audio").src = URL.createObjectURL(file);
    var buttons = li.querySelectorAll("button");
    function busy() { buttons.forEach(function (b) { b.disabled = true; }); }
    li.querySelector(".resume").addEventListener("click", function () {
      busy();
      send(file, record.title || "", { id: record.id, url: record.url, offer: record.offer })
        .then(function (ok) { if (!ok) buttons.forEach(function (b) { b.disabled = false; }); });
    });
    li.querySelector(".discard").addEventListener("click", function () {
      busy();
      discard(record).then(function () {
        li.remove();
        unfinished.hidden = !list.children.length && !others.children.length;
        said.textContent = unfinished.dataset.discarded;
      });
    });
    return li;
  }

  if (unfinished && list && entry && others && other && elsewhere) {
    kept.then(function (store) { return store ? store.list() : []; })
      .then(function (records) {
        records.forEach(function (r) {
          if (r.campaign === campaign) list.appendChild(listed(r));
          else others.appendChild(listedElsewhere(r));
        });
        elsewhere.hidden = !others.children.length;
        unfinished.hidden = !records.length;
      }, function () { return null; })
      .then(function () { list.setAttribute("aria-busy", "false"); });
  }

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
  var keptId = null, keeping = Promise.resolve(null); // this recording in the browser's store

  function recording() {
    var ext = (blob.type.indexOf("ogg") >= 0) ? "ogg" : (blob.type.indexOf("mp4") >= 0 ? "m4a" : "webm");
    return new File([blob], "recording-" + began + "." + ext, { type: blob.type, lastModified: began });
  }

  // Kept before any upload starts; a new recording replaces one not yet sent.
  function keep(file, length) {
    var replaced = keptId;
    keptId = null;
    keeping = kept.then(function (store) {
      if (!store) return null;
      return (replaced != null ? store.forget(replaced) : Promise.resolve())
        .then(function () { return file.arrayBuffer(); })
        .then(function (data) {
          return store.keep({
            campaign: campaign, offer: form.dataset.offer, title: "", name: file.name,
            task: form.dataset.task, page: location.pathname + location.search,
            type: file.type, lastModified: file.lastModified, size: file.size,
            seconds: length, data: data, url: null, sent: 0
          });
        });
    }).then(function (id) { keptId = id; return id; }, function () { return null; });
    return keeping;
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
      var file = recording();
      checked(file, seconds).then(function (ok) {
        return ok ? keep(file, seconds).then(function () { return ok; }) : ok;
      }).then(function (ok) { sendBtn.disabled = !ok; });
    };
    if (pre) pre.show(form, null);
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
    var title = (form.elements.title || {}).value || "";
    checked(file, seconds).then(function (ok) {
      if (!ok) return;
      keeping.then(function (id) {
        if (id == null) return send(file, title);
        return remember(id, { title: title }).then(function () {
          return send(file, title, { id: id, offer: form.dataset.offer });
        });
      });
    });
  });
})();
