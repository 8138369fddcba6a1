/*
 * The operators' upload page: drag and drop files, upload each through the
 * tus 1.0.0 endpoint in chunks with a progress bar, pause/resume, retry
 * after a dropped connection, then follow the file through validation.
 *
 * Written for this project; no third-party code. Same-origin only: it uses
 * the admin session cookie and the page's CSRF token.
 */
(function () {
  "use strict";

  var root = document.getElementById("uploader");
  if (!root) return;
  var TUS = root.dataset.tusUrl;
  var FILES_API = root.dataset.filesApi;
  var ADMIN_CHANGE = root.dataset.adminChange; // ends with "00000000-0000-0000-0000-000000000000/change/"
  var CSRF = root.dataset.csrf;
  var PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
  var RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000];
  var POLL_MS = 1000;
  var chunkSize = 5 * 1024 * 1024;
  var checksums = false;

  var dropZone = document.getElementById("uploader-drop");
  var input = document.getElementById("uploader-input");
  var list = document.getElementById("uploader-list");

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  function humanSize(bytes) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  function tusHeaders(extra) {
    var headers = { "Tus-Resumable": "1.0.0", "X-CSRFToken": CSRF };
    for (var key in extra) headers[key] = extra[key];
    return headers;
  }

  function detail(response) {
    return response.text().then(function (text) {
      try { return JSON.parse(text).detail || text; } catch (e) { return text || response.statusText; }
    });
  }

  // Learn the server's chunk size and checksum support once.
  var ready = fetch(TUS, { method: "OPTIONS", credentials: "same-origin" }).then(function (response) {
    var size = parseInt(response.headers.get("Tus-Chunk-Size") || "", 10);
    if (size > 0) chunkSize = size;
    var algorithms = (response.headers.get("Tus-Checksum-Algorithm") || "").split(",");
    checksums = algorithms.indexOf("sha256") >= 0 && !!(window.crypto && crypto.subtle);
  }).catch(function () {});

  function Upload(file) {
    this.file = file;
    this.url = null;
    this.offset = 0;
    this.xhr = null;
    this.paused = false;
    this.failures = 0;
    this.done = false;
    this.key = "tus:" + [file.name, file.size, file.lastModified].join(":");
    this.render();
  }

  Upload.prototype.render = function () {
    var row = document.createElement("li");
    row.className = "uploader-item";
    row.innerHTML =
      '<div class="uploader-name"></div>' +
      '<progress max="100" value="0"></progress> <span class="uploader-percent">0%</span>' +
      ' <span class="uploader-status">waiting</span> <a class="uploader-link" hidden>open in admin</a>' +
      ' <button type="button" class="uploader-pause">Pause</button>' +
      ' <button type="button" class="uploader-resume" hidden>Resume</button>' +
      ' <button type="button" class="uploader-retry" hidden>Retry</button>';
    row.querySelector(".uploader-name").textContent = this.file.name + " (" + humanSize(this.file.size) + ")";
    this.row = row;
    this.bar = row.querySelector("progress");
    this.percent = row.querySelector(".uploader-percent");
    this.statusEl = row.querySelector(".uploader-status");
    this.link = row.querySelector(".uploader-link");
    this.buttons = {
      pause: row.querySelector(".uploader-pause"),
      resume: row.querySelector(".uploader-resume"),
      retry: row.querySelector(".uploader-retry"),
    };
    var self = this;
    this.buttons.pause.onclick = function () { self.pause(); };
    this.buttons.resume.onclick = function () { self.resume(); };
    this.buttons.retry.onclick = function () { self.failures = 0; self.resume(); };
    list.appendChild(row);
  };

  Upload.prototype.setStatus = function (text, state) {
    this.statusEl.textContent = text;
    this.row.dataset.state = state || "";
  };

  Upload.prototype.showButtons = function (pause, resume, retry) {
    this.buttons.pause.hidden = !pause;
    this.buttons.resume.hidden = !resume;
    this.buttons.retry.hidden = !retry;
  };

  Upload.prototype.setProgress = function (bytes) {
    var pct = this.file.size ? Math.floor((bytes * 100) / this.file.size) : 100;
    this.bar.value = pct;
    this.percent.textContent = pct + "%";
  };

  Upload.prototype.start = function () {
    var self = this;
    self.setStatus("starting", "uploading");
    ready.then(function () {
      var saved = window.localStorage && localStorage.getItem(self.key);
      if (saved) { self.url = saved; return self.resume(); }
      return self.create();
    });
  };

  Upload.prototype.create = function () {
    var self = this;
    var metadata = "filename " + b64(self.file.name);
    if (self.file.type) metadata += ",filetype " + b64(self.file.type);
    return fetch(TUS, {
      method: "POST",
      credentials: "same-origin",
      headers: tusHeaders({ "Upload-Length": String(self.file.size), "Upload-Metadata": metadata }),
    }).then(function (response) {
      if (response.status !== 201) {
        return detail(response).then(function (text) { self.fatal("refused: " + text); });
      }
      self.url = response.headers.get("Location");
      self.offset = parseInt(response.headers.get("Upload-Offset") || "0", 10);
      if (window.localStorage) localStorage.setItem(self.key, self.url);
      self.next();
    }, function () { self.dropped(); });
  };

  // Ask the server where to continue: the only safe offset after a failure.
  Upload.prototype.resume = function () {
    var self = this;
    self.paused = false;
    self.showButtons(true, false, false);
    self.setStatus("resuming", "uploading");
    if (!self.url) return self.create();
    return fetch(self.url, { method: "HEAD", credentials: "same-origin", headers: tusHeaders({}) }).then(
      function (response) {
        if (response.status === 404 || response.status === 410) {
          // The server forgot it (expired or removed): start over.
          if (window.localStorage) localStorage.removeItem(self.key);
          self.url = null;
          self.offset = 0;
          return self.create();
        }
        if (!response.ok) return self.dropped();
        self.offset = parseInt(response.headers.get("Upload-Offset") || "0", 10);
        self.next();
      },
      function () { self.dropped(); }
    );
  };

  Upload.prototype.pause = function () {
    this.paused = true;
    if (this.xhr) this.xhr.abort();
    this.showButtons(false, true, false);
    this.setStatus("paused", "paused");
  };

  Upload.prototype.next = function () {
    var self = this;
    if (self.paused) return;
    self.setProgress(self.offset);
    if (self.offset >= self.file.size) return self.finished();
    self.setStatus("uploading", "uploading");
    self.showButtons(true, false, false);
    var chunk = self.file.slice(self.offset, Math.min(self.offset + chunkSize, self.file.size));
    var withChecksum = checksums
      ? chunk.arrayBuffer().then(function (buffer) { return crypto.subtle.digest("SHA-256", buffer); })
      : Promise.resolve(null);
    withChecksum.then(function (digest) {
      if (self.paused) return;
      var xhr = new XMLHttpRequest();
      self.xhr = xhr;
      xhr.open("PATCH", self.url);
      var headers = tusHeaders({ "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(self.offset) });
      if (digest) {
        var bytes = new Uint8Array(digest);
        var binary = "";
        for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
        headers["Upload-Checksum"] = "sha256 " + btoa(binary);
      }
      for (var key in headers) xhr.setRequestHeader(key, headers[key]);
      xhr.upload.onprogress = function (event) { self.setProgress(self.offset + event.loaded); };
      xhr.onload = function () {
        self.xhr = null;
        if (xhr.status === 204) {
          self.failures = 0;
          self.offset = parseInt(xhr.getResponseHeader("Upload-Offset") || "0", 10);
          return self.next();
        }
        if (xhr.status === 409 || xhr.status === 460 || xhr.status >= 500 || xhr.status === 423) {
          return self.dropped(); // wrong offset, bad checksum or a busy server: ask again and retry
        }
        var text = xhr.responseText;
        try { text = JSON.parse(text).detail || text; } catch (e) {}
        self.fatal("refused (" + xhr.status + "): " + text);
      };
      xhr.onerror = function () { self.xhr = null; self.dropped(); };
      xhr.onabort = function () { self.xhr = null; };
      xhr.send(chunk);
    });
  };

  // A dropped connection: retry on our own a few times, then offer Retry.
  Upload.prototype.dropped = function () {
    var self = this;
    if (self.paused) return;
    if (self.failures < RETRY_DELAYS.length) {
      var delay = RETRY_DELAYS[self.failures++];
      self.setStatus("connection lost, retrying in " + delay / 1000 + " s", "retrying");
      setTimeout(function () { if (!self.paused) self.resume(); }, delay);
      return;
    }
    self.setStatus("connection lost", "error");
    self.showButtons(false, false, true);
  };

  Upload.prototype.fatal = function (message) {
    this.setStatus(message, "failed");
    this.showButtons(false, false, false);
    if (window.localStorage) localStorage.removeItem(this.key);
  };

  Upload.prototype.finished = function () {
    if (window.localStorage) localStorage.removeItem(this.key);
    this.showButtons(false, false, false);
    this.setProgress(this.file.size);
    this.id = this.url.replace(/\/+$/, "").split("/").pop();
    this.link.href = ADMIN_CHANGE.replace(PLACEHOLDER, this.id);
    this.link.hidden = false;
    this.setStatus("uploaded, waiting for validation", "uploaded");
    this.poll();
  };

  // Follow the file through validation until it is COMPLETED or FAILED.
  Upload.prototype.poll = function () {
    var self = this;
    fetch(FILES_API + self.id + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (file) {
        if (file && (file.status === "completed" || file.status === "failed")) {
          var text = file.status === "failed" && file.failure_reason ? "failed: " + file.failure_reason : file.status;
          self.setStatus(text, file.status);
          return;
        }
        if (file) self.setStatus(file.status, file.status);
        setTimeout(function () { self.poll(); }, POLL_MS);
      }, function () { setTimeout(function () { self.poll(); }, POLL_MS * 3); });
  };

  function add(files) {
    for (var i = 0; i < files.length; i++) new Upload(files[i]).start();
  }

  input.addEventListener("change", function () { add(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (name) {
    dropZone.addEventListener(name, function (event) { event.preventDefault(); dropZone.classList.add("is-over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropZone.addEventListener(name, function (event) { event.preventDefault(); dropZone.classList.remove("is-over"); });
  });
  dropZone.addEventListener("drop", function (event) { add(event.dataTransfer.files); });
})();
