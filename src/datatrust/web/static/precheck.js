/* Datatrust's check of a file before it is uploaded: its type, size and (for recordings)
   length against the task's rules, which the capture page's form carries in
   data-rules (from services.upload_limits.recording_rules, the figures the pipeline judges
   by) with the sentences to show in data-messages, in the page's language. The server's
   own checks stay the authority; this only spares a person an upload that would be
   refused. Any upload script calls it:

     datatrustPrecheck.check(file, form, knownSeconds) -> Promise<string|null>
       (the problem in words, or null when the file may go; knownSeconds: the length of
        a recording made in the page, whose file may not state it)
     datatrustPrecheck.show(form, problem)  (shows it next to the file field, or clears it)
     datatrustPrecheck.seconds(value, lang, patterns)  (a length in the page's language)
*/
(function () {
  "use strict";

  function rulesOf(form) {
    try {
      return {
        rules: JSON.parse(form.dataset.rules || "{}"),
        messages: JSON.parse(form.dataset.messages || "{}"),
        patterns: JSON.parse(form.dataset.seconds || "null"),
        lang: form.dataset.lang || document.documentElement.lang || "en"
      };
    } catch (e) {
      return null;
    }
  }

  function ending(name) {
    var dot = (name || "").lastIndexOf(".");
    return dot >= 0 ? name.slice(dot).toLowerCase() : "";
  }

  function number(value, lang) {
    try {
      return new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value);
    } catch (e) {
      return String(Math.round(value * 10) / 10);
    }
  }

  // "N seconds" in the page's language: by the server's CLDR patterns when the form has
  // them (data-seconds, per plural category), since a browser's own unit names may fall
  // back to English (isiZulu in Chromium); else by Intl.
  function seconds(value, lang, patterns) {
    if (patterns) {
      var category = "other";
      try { category = new Intl.PluralRules(lang).select(value); } catch (e) { /* other */ }
      var pattern = patterns[category] || patterns.other;
      if (pattern) return pattern.replace("{0}", number(value, lang));
    }
    try {
      return new Intl.NumberFormat(lang, {
        style: "unit", unit: "second", unitDisplay: "long", maximumFractionDigits: 1
      }).format(value);
    } catch (e) {
      return number(value, lang) + " s";
    }
  }

  // The length the browser reads from the file's own header; null when it cannot tell
  // (the server then decides). A recording from MediaRecorder states no length until it
  // is sought to its end.
  function duration(file) {
    return new Promise(function (resolve) {
      var media = document.createElement(/^audio\//.test(file.type) ? "audio" : "video");
      var url = URL.createObjectURL(file);
      var done = false;
      function finish(value) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        media.removeAttribute("src");
        media.load();
        URL.revokeObjectURL(url);
        resolve(value);
      }
      var timer = setTimeout(function () { finish(null); }, 8000);
      media.preload = "metadata";
      media.muted = true;
      media.onerror = function () { finish(null); };
      media.ondurationchange = function () {
        if (isFinite(media.duration) && media.duration > 0) finish(media.duration);
      };
      media.onloadedmetadata = function () {
        if (isFinite(media.duration)) finish(media.duration);
        else media.currentTime = 1e101;
      };
      media.src = url;
    });
  }

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? values[name] : all;
    });
  }

  async function check(file, form, knownSeconds) {
    var set = rulesOf(form);
    if (!set || !file) return null;
    var rules = set.rules, messages = set.messages, lang = set.lang, patterns = set.patterns;
    var type = (file.type || "").split(";")[0].trim().toLowerCase();
    var typeKnown = (rules.types || []).indexOf(type) >= 0;
    var endingKnown = (rules.extensions || []).indexOf(ending(file.name)) >= 0;
    if ((rules.types || rules.extensions) && !typeKnown && !endingKnown) return messages.type;
    if (rules.bytes && file.size > rules.bytes) {
      var mb = Math.max(file.size / 1048576, 0.1);
      return say(messages.big, { size: number(mb, lang) + " MB" });
    }
    if (!rules.min && !rules.max) return null;
    var length = typeof knownSeconds === "number" ? knownSeconds : await duration(file);
    if (length === null || !isFinite(length)) return null;
    if (rules.min && length < rules.min) return say(messages.short, { duration: seconds(length, lang, patterns) });
    if (rules.max && length > rules.max) return say(messages.long, { duration: seconds(length, lang, patterns) });
    return null;
  }

  function show(form, problem) {
    var box = document.getElementById("precheck-error");
    var input = form.elements.file;
    if (!box) return;
    box.textContent = problem || "";
    box.hidden = !problem;
    if (input) {
      if (problem) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "precheck-error");
      } else if (input.getAttribute("aria-describedby") === "precheck-error") {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    }
  }

  window.datatrustPrecheck = {
    check: check, show: show, duration: duration, seconds: seconds
  };

  // Checked as soon as a file is chosen, so the person knows before pressing Upload.
  var form = document.getElementById("upload");
  if (form && form.elements.file) {
    form.elements.file.addEventListener("change", function () {
      var file = form.elements.file.files && form.elements.file.files[0];
      if (!file) { show(form, null); return; }
      check(file, form).then(function (problem) { show(form, problem); });
    });
  }
})();
