// Upload page: one XHR per file with its own progress bar, then live processing state.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("photo-input");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("upload-list");
  var token = form.querySelector("input[name=csrf_token]").value;
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var maxMb = form.dataset.maxMb;
  var counter = 0;
  var queue = [];
  var active = 0;
  var PARALLEL = 2;

  function row(n, file) {
    var li = document.createElement("li");
    li.className = "upload";
    li.innerHTML =
      '<span class="name"></span>' +
      '<progress max="100" value="0"></progress>' +
      '<span class="state" role="status">waiting</span>' +
      '<span class="message"></span>';
    // The file's own name is shown here, on this page only, so that the photographer
    // knows which file was refused. It is never sent (see send) nor stored.
    var label = file.name || "Photo " + n;
    li.querySelector(".name").textContent = label;
    li.querySelector("progress").setAttribute("aria-label", "Upload of " + label);
    list.appendChild(li);
    return li;
  }

  function setState(li, state, message) {
    var s = li.querySelector(".state");
    s.textContent = state;
    s.className = "state state-" + state;
    li.dataset.state = state;
    li.querySelector(".message").textContent = message || "";
  }

  function poll(li, url) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* ignore */ }
      if (xhr.status !== 200) {
        setState(li, "failed", body.error || "The status could not be read.");
        return;
      }
      var message = body.state === "done"
        ? body.faces + (body.faces === 1 ? " face" : " faces") + " obscured"
        : body.error || "";
      setState(li, body.state, message);
      if (body.state === "queued" || body.state === "processing") {
        setTimeout(function () { poll(li, url); }, 1000);
      } else if (body.state === "done" && li.dataset.page) {
        var a = document.createElement("a");
        a.href = li.dataset.page;
        a.textContent = "see it";
        li.querySelector(".message").append(" · ", a);
      }
    };
    xhr.onerror = function () { setTimeout(function () { poll(li, url); }, 3000); };
    xhr.send();
  }

  function send(file, li) {
    active += 1;
    var bar = li.querySelector("progress");
    var data = new FormData();
    // A fixed name: the browser would otherwise send the file's own name.
    data.append("photo", file, "upload");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", token);
    setState(li, "uploading");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* ignore */ }
      if (xhr.status === 202) {
        bar.value = 100;
        li.dataset.page = body.page_url;
        setState(li, body.state);
        poll(li, body.status_url);
      } else {
        setState(li, "failed", body.error || "The upload was refused (" + xhr.status + ").");
      }
      next();
    };
    xhr.onerror = function () {
      setState(li, "failed", "The connection broke during the upload. Try this file again.");
      next();
    };
    xhr.send(data);
  }

  function next() {
    active -= 1;
    pump();
  }

  function pump() {
    while (active < PARALLEL && queue.length) {
      var item = queue.shift();
      send(item.file, item.li);
    }
  }

  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      counter += 1;
      var li = row(counter, file);
      if (file.size === 0) {
        setState(li, "failed", "The file is empty (0 bytes).");
      } else if (file.size > maxBytes) {
        setState(li, "failed", "The file is larger than the limit of " + maxMb + " MB.");
      } else {
        queue.push({ file: file, li: li });
      }
    });
    pump();
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) {
      e.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    add(e.dataTransfer.files);
  });
})();
