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
  // Every word the page shows comes from the page, in its language.
  var words = JSON.parse(document.getElementById("upload-words").textContent);
  // The browser's own "Choose files / No file chosen" is in the browser's language, not
  // the page's: with the script running, the drop zone (a label) is the only control.
  form.classList.add("scripted");
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }
  // A counted sentence in the plural form the page's language uses for n.
  var plural = window.Intl && Intl.PluralRules
    ? new Intl.PluralRules(document.documentElement.lang) : null;
  function counted(forms, n) {
    return forms[plural ? plural.select(n) : (n === 1 ? "one" : "other")] || forms.other;
  }
  function stateWord(state) {
    return words.states[state] || state;
  }
  var counter = 0;
  var queue = [];
  var active = 0;
  var PARALLEL = 2;

  function row(n, file) {
    var li = document.createElement("li");
    li.className = "upload";
    li.innerHTML =
      // dir=auto: a file's name and a message keep their own direction on a
      // right-to-left page (a Latin name, or a refusal not yet translated).
      '<span class="name" dir="auto"></span>' +
      '<progress max="100" value="0"></progress>' +
      '<span class="state" role="status"></span>' +
      '<span class="message" dir="auto"></span>';
    // The file's own name is shown here, on this page only, so that the photographer
    // knows which file was refused. It is never sent (see send) nor stored.
    var label = file.name || fill(words.photo, { number: n });
    li.querySelector(".name").textContent = label;
    li.querySelector("progress").setAttribute("aria-label", fill(words.upload_of, { name: label }));
    setState(li, "waiting");
    list.appendChild(li);
    return li;
  }

  function setState(li, state, message) {
    var s = li.querySelector(".state");
    s.textContent = stateWord(state);
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
        setState(li, "failed", body.message || body.error || words.unreadable);
        return;
      }
      var message = body.state === "done"
        ? fill(counted(words.faces, body.faces), { number: body.faces })
        : body.message || body.error || "";
      setState(li, body.state, message);
      if (body.state === "queued" || body.state === "processing") {
        setTimeout(function () { poll(li, url); }, 1000);
      } else if (body.state === "done" && li.dataset.page) {
        var a = document.createElement("a");
        a.href = li.dataset.page;
        a.textContent = words.see_it;
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
        setState(li, "failed", body.message || body.error || fill(words.refused, { status: xhr.status }));
      }
      next();
    };
    xhr.onerror = function () {
      setState(li, "failed", words.broken);
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
        setState(li, "failed", words.empty);
      } else if (file.size > maxBytes) {
        setState(li, "failed", words.too_large);
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
