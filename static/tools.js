// GhostTools AI tools, progressive enhancement (the pages work without this file):
// - AgentWrite: the description streams onto the page as it is written (server-sent events
//   read from a fetch POST), formatted as it arrives (each piece says which blocks changed:
//   the title, paragraphs, bullets), then shows with copy buttons.
// - PodScribe: the upload shows a progress bar (XHR), then the transcription's stages.
// - Copy buttons copy the text of the element they name.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };

  function show(el, on) { if (el) { el.hidden = !on; } }

  function clearFieldErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; p.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
  }

  function showFieldErrors(fields) {
    var first = null;
    Object.keys(fields || {}).forEach(function (name) {
      var p = $(name + "-error");
      var input = $(name);
      if (p) { p.textContent = fields[name]; p.hidden = false; }
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", name + "-error");
        first = first || input;
      }
    });
    if (first && first.focus) { first.focus(); }
  }

  // ---- Copy buttons -------------------------------------------------------------------------
  function enableCopyButtons(root) {
    if (!navigator.clipboard) { return; }
    root.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!button || !navigator.clipboard) { return; }
    var source = $(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.value !== undefined ? source.value : source.innerText;
    var label = button.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  enableCopyButtons(document);

  // ---- AgentWrite: stream the description ----------------------------------------------------
  var writeForm = document.querySelector("form[data-agentwrite]");
  if (writeForm && window.fetch && window.TextDecoder && window.ReadableStream) {
    writeForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      writeDescription(writeForm);
    });
  }

  function parseEvent(raw) {
    var name = "message";
    var data = [];
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
      else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
    });
    if (!data.length) { return null; }
    try { return { name: name, data: JSON.parse(data.join("\n")) }; } catch (e) { return null; }
  }

  // The copy shown so far as [kind, text] blocks; a change replaces the blocks from `from` on.
  function renderLive(live, shown, view) {
    shown.splice(view.from, shown.length - view.from);
    Array.prototype.push.apply(shown, view.blocks);
    live.textContent = "";
    var list = null;
    shown.forEach(function (block) {
      if (block[0] === "li") {
        if (!list) { list = document.createElement("ul"); live.appendChild(list); }
        var li = document.createElement("li");
        li.textContent = block[1];
        list.appendChild(li);
        return;
      }
      list = null;
      var el = document.createElement(block[0] === "title" ? "h2" : "p");
      el.textContent = block[1];
      live.appendChild(el);
    });
  }

  function renderResult(d) {
    $("aw-title").textContent = d.title;
    var description = $("aw-description");
    description.textContent = "";
    (d.paragraphs || []).forEach(function (text) {
      var p = document.createElement("p");
      p.textContent = text;
      description.appendChild(p);
    });
    var bullets = $("aw-bullets");
    bullets.textContent = "";
    (d.bullets || []).forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      bullets.appendChild(li);
    });
    var plain = d.title + "\n\n" + (d.paragraphs || []).join("\n\n") + "\n";
    if ((d.bullets || []).length) { plain += "\n- " + d.bullets.join("\n- ") + "\n"; }
    $("aw-plain").value = plain;
    $("aw-download").href = d.download;
    show($("aw-live"), false);
    show($("aw-output"), true);
    enableCopyButtons($("aw-output"));
    if (typeof d.balance === "number") { $("aw-balance").textContent = String(d.balance); }
    $("aw-status").textContent = "Done — saved to your history." + (d.cut_short ? " " + d.cut_short : "");
    if (d.url && window.history && history.replaceState) { history.replaceState(null, "", d.url); }
  }

  function writeDescription(form) {
    var submit = $("aw-submit");
    var notice = $("aw-notice");
    var live = $("aw-live");
    clearFieldErrors(form);
    show(notice, false);
    submit.disabled = true;
    show($("aw-result"), true);
    show($("aw-output"), false);
    live.textContent = "";
    show(live, true);
    $("aw-result").removeAttribute("data-live");
    $("aw-status").textContent = "Writing…";
    var failed = function (message) {
      notice.textContent = message;
      show(notice, true);
      show(live, false);
      $("aw-status").textContent = "";
      notice.scrollIntoView && notice.scrollIntoView({ block: "nearest" });
    };
    var finished = false;
    var shown = [];
    fetch(form.getAttribute("data-stream"), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "text/event-stream" },
      credentials: "same-origin",
    }).then(function (res) {
      var type = res.headers.get("content-type") || "";
      if (res.status === 401) { form.submit(); return; }
      if (!res.ok || type.indexOf("text/event-stream") !== 0) {
        return res.json().then(function (body) {
          var e = (body && body.error) || {};
          show($("aw-result"), false);
          if (e.fields) { showFieldErrors(e.fields); }
          failed(e.message || "Something went wrong. Please try again.");
        }, function () { show($("aw-result"), false); failed("Something went wrong. Please try again."); });
      }
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var pump = function () {
        return reader.read().then(function (step) {
          if (step.done) {
            if (!finished) { failed("The connection broke off. If a description was saved, it is in your history."); }
            return;
          }
          buffer += decoder.decode(step.value, { stream: true }).replace(/\r/g, "");
          var end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            var event = parseEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (!event) { continue; }
            if (event.name === "delta") { if (event.data.view) { renderLive(live, shown, event.data.view); } }
            else if (event.name === "done") { finished = true; renderResult(event.data); }
            else if (event.name === "error") { finished = true; failed(event.data.message); }
          }
          return pump();
        });
      };
      return pump();
    }).catch(function () {
      failed("We could not reach GhostTools. Check your connection and try again.");
    }).then(function () {
      submit.disabled = false;
      submit.textContent = "Regenerate (1 credit)";
    });
  }

  // ---- PodScribe: upload with progress -------------------------------------------------------
  var uploadForm = document.querySelector("form[data-podscribe]");
  if (uploadForm && window.XMLHttpRequest && window.FormData) {
    uploadForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      uploadEpisode(uploadForm);
    });
  }

  var STAGES = {
    accepted: "Uploaded. Starting the transcription…",
    transcribing: "Transcribing… this can take a minute or two for a long episode.",
    writing_notes: "Writing show notes…",
    done: "Done! Opening the transcript…",
  };

  function uploadEpisode(form) {
    var input = $("file");
    var error = $("file-error");
    var notice = $("ps-notice");
    var bar = $("ps-bar");
    var stage = $("ps-stage");
    var submit = $("ps-submit");
    clearFieldErrors(form);
    show(notice, false);
    var file = input.files && input.files[0];
    var max = Number(form.getAttribute("data-max-bytes"));
    var maxInParts = Number(form.getAttribute("data-max-episode-bytes"));
    if (!file) { showFieldErrors({ file: "Choose an audio file to upload." }); return; }
    if (max && file.size > max) {
      if (file.size > maxInParts) {
        showFieldErrors({ file: "That file is larger than 500 MB. Please upload a shorter or more compressed episode." });
      } else if (!/\.(mp3|wav)$/i.test(file.name)) {
        showFieldErrors({ file: "Episodes over 25 MB must be MP3 or WAV: those are the formats PodScribe can cut into parts for transcription." });
      } else {
        uploadInParts(form, file);
      }
      return;
    }
    var failed = function (message) {
      error.textContent = message;
      error.hidden = false;
      show($("ps-progress"), false);
      submit.disabled = false;
    };
    submit.disabled = true;
    bar.value = 0;
    $("ps-bar-label").textContent = "Uploading…";
    stage.textContent = "";
    show($("ps-progress"), true);
    var xhr = new XMLHttpRequest();
    var seen = 0;
    var last = null;
    var readLines = function () {
      var text = xhr.responseText || "";
      var lines = text.slice(seen).split("\n");
      if (lines.length < 2) { return; }
      var complete = lines.slice(0, -1);
      seen += complete.join("\n").length + 1;
      complete.forEach(function (line) {
        if (!line.trim()) { return; }
        try { last = JSON.parse(line); } catch (e) { return; }
        if (last.status === "failed") { stage.textContent = last.message; }
        else if (last.status === "transcribing" && last.chunks) {
          stage.textContent = "Transcribing… " + last.chunks_done + " of " + last.chunks + " parts transcribed.";
        } else if (STAGES[last.status]) { stage.textContent = STAGES[last.status]; }
      });
    };
    xhr.open("POST", form.getAttribute("data-upload"));
    xhr.setRequestHeader("Accept", "application/x-ndjson");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
    };
    xhr.upload.onload = function () {
      bar.value = 100;
      $("ps-bar-label").textContent = "Uploaded";
      stage.textContent = "Checking the file…";
    };
    xhr.onprogress = function () { if (xhr.status === 200) { readLines(); } };
    xhr.onerror = function () { failed("The upload was interrupted. Check your connection and try again."); };
    xhr.onload = function () {
      if (xhr.status === 200) {
        readLines();
        if (last && last.url) { window.location.assign(last.url); return; }
        failed("The transcription stopped unexpectedly. Your history shows what was saved.");
        return;
      }
      if (xhr.status === 401) { window.location.assign("/signin?next=%2Ftools%2Fpodscribe"); return; }
      var message = "The upload was refused. Please try again.";
      try { message = JSON.parse(xhr.responseText).error.message || message; } catch (e) { /* not JSON */ }
      failed(message);
    };
    xhr.send(new FormData(form));
  }

  // ---- PodScribe: an episode over 25 MB, in parts of 8 MB -------------------------------------
  // Each part is its own request, sent again up to five times with growing pauses; the parts
  // that arrived are recorded by the server, so choosing the same file again after a dropped
  // connection continues where it stopped (the upload's id is remembered for that file).
  function uploadInParts(form, file) {
    var base = form.getAttribute("data-parts");
    var csrf = form.querySelector('input[name="csrf"]').value;
    var bar = $("ps-bar");
    var stage = $("ps-stage");
    var submit = $("ps-submit");
    var error = $("file-error");
    var memory = "gt-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
    var failed = function (message) {
      error.textContent = message;
      error.hidden = false;
      show($("ps-progress"), false);
      submit.disabled = false;
    };
    var answer = function (res) {
      return res.json().then(function (body) {
        if (!res.ok) { throw new Error((body.error && body.error.message) || ("The upload was refused (" + res.status + ").")); }
        return body;
      }, function () { throw new Error("The upload was refused (" + res.status + ")."); });
    };
    var post = function (url, fields) {
      var body = new URLSearchParams(fields);
      body.set("csrf", csrf);
      return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(answer);
    };
    var open = function () {
      var known = null;
      try { known = window.localStorage.getItem(memory); } catch (e) { /* private mode */ }
      var fresh = function () {
        return post(base, { file_name: file.name, size: String(file.size) }).then(function (u) {
          try { window.localStorage.setItem(memory, u.id); } catch (e) { /* private mode */ }
          return u;
        });
      };
      if (!known) { return fresh(); }
      return fetch(base + "/" + encodeURIComponent(known), { credentials: "same-origin" })
        .then(function (res) { return res.ok ? res.json() : fresh(); }, fresh);
    };
    var sendPart = function (u, n, tries) {
      return new Promise(function (resolve, reject) {
        var start = (n - 1) * u.part_bytes;
        var xhr = new XMLHttpRequest();
        xhr.open("POST", base + "/" + encodeURIComponent(u.id) + "/parts/" + n);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        xhr.setRequestHeader("X-CSRF-Token", csrf);
        xhr.upload.onprogress = function (e) {
          bar.value = Math.floor(((start + (e.lengthComputable ? e.loaded : 0)) / file.size) * 100);
        };
        xhr.onload = function () {
          if (xhr.status === 200) { resolve(JSON.parse(xhr.responseText)); return; }
          var message = "Part " + n + " was refused (" + xhr.status + ").";
          try { message = JSON.parse(xhr.responseText).error.message || message; } catch (e) { /* not JSON */ }
          if (xhr.status >= 500 || xhr.status === 429) { retry(message); } else { reject(new Error(message)); }
        };
        var retry = function (message) {
          if (tries >= 5) { reject(new Error(message)); return; }
          stage.textContent = "Part " + n + " did not arrive; sending it again…";
          setTimeout(function () { sendPart(u, n, tries + 1).then(resolve, reject); }, 1000 * Math.pow(2, tries));
        };
        xhr.onerror = function () { retry("The connection dropped. Choose the same file again to continue where it stopped."); };
        xhr.send(file.slice(start, Math.min(start + u.part_bytes, file.size)));
      });
    };
    submit.disabled = true;
    error.hidden = true;
    bar.value = 0;
    $("ps-bar-label").textContent = "Uploading in parts…";
    stage.textContent = "";
    show($("ps-progress"), true);
    open().then(function (u) {
      var todo = [];
      for (var n = 1; n <= u.parts; n++) { if (u.received.indexOf(n) < 0) { todo.push(n); } }
      if (todo.length < u.parts) { stage.textContent = "Continuing where the upload stopped…"; }
      return todo.reduce(function (done, n) {
        return done.then(function () { return sendPart(u, n, 0); });
      }, Promise.resolve()).then(function () { return u; });
    }).then(function (u) {
      bar.value = 100;
      $("ps-bar-label").textContent = "Uploaded";
      stage.textContent = "Checking the file…";
      return post(base + "/" + encodeURIComponent(u.id) + "/complete", {});
    }).then(function (accepted) {
      try { window.localStorage.removeItem(memory); } catch (e) { /* private mode */ }
      window.location.assign(accepted.url);
    }).catch(function (e) { failed(e.message); });
  }

  // ---- A run in progress: the part of the page marked data-live follows it -----------------
  // It fetches this page again and swaps that part in place (no reload: scroll and focus stay),
  // announcing the new status, until the part is no longer live. Without JavaScript, the page
  // shows a plain link to refresh instead.
  function followLive(id) {
    var say = $("live-say");
    var wait = 2000;
    var statusOf = function (el) {
      var s = el.querySelector("[data-live-status]");
      return s ? s.textContent.replace(/\s+/g, " ").trim() : "";
    };
    var tick = function () {
      var current = $(id);
      if (!current || !current.hasAttribute("data-live")) { return; }
      fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store" })
        .then(function (res) {
          if (!res.ok) { throw new Error("HTTP " + res.status); }
          return res.text();
        })
        .then(function (html) {
          var next = new DOMParser().parseFromString(html, "text/html").getElementById(id);
          current = $(id);
          if (!current || !current.hasAttribute("data-live")) { return; }
          // Signed out, or the run is gone: the page itself says what happened.
          if (!next) { window.location.reload(); return; }
          var before = statusOf(current);
          next = document.adoptNode(next);
          current.replaceWith(next);
          enableCopyButtons(next);
          var after = statusOf(next);
          if (say && after && after !== before) { say.textContent = after; }
          wait = 2000;
          if (next.hasAttribute("data-live")) { setTimeout(tick, wait); }
        })
        .catch(function () {
          // Offline or busy: ask again, less often.
          wait = Math.min(wait * 2, 30000);
          setTimeout(tick, wait);
        });
    };
    setTimeout(tick, wait);
  }
  document.querySelectorAll("[data-live][id]").forEach(function (el) { followLive(el.id); });
})();
