// The attendees' pages: numbered face buttons over the photo, choosing a face, drawing
// a box around a missed face (mouse or touch), copying the receipt link.
// The page's Content-Security-Policy forbids inline scripts and style attributes, so
// boxes are placed here, from data-box="left top width height" (percent of the image).
// Without script, the radio list and the forms still work (except drawing a box).
// It holds no words of its own: the page gives them, translated, in a JSON block
// (#claim-words) and in data-* attributes.
(function () {
  "use strict";

  var words = {};
  var wordsBlock = document.getElementById("claim-words");
  if (wordsBlock) {
    try { words = JSON.parse(wordsBlock.textContent); } catch (e) { words = {}; }
  }
  function word(key, values) {
    var text = words[key] || "";
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function place(el, left, top, width, height) {
    el.style.left = left + "%";
    el.style.top = top + "%";
    el.style.width = width + "%";
    el.style.height = height + "%";
  }

  document.querySelectorAll("[data-box]").forEach(function (el) {
    var v = el.dataset.box.split(" ").map(parseFloat);
    place(el, v[0], v[1], v[2], v[3]);
    // A label above a face at the very top would leave the photo: put it below.
    if (v[1] < 8) el.classList.add("label-below");
  });
  document.querySelectorAll(".face-layer[hidden], .js-only[hidden]").forEach(function (el) {
    el.hidden = false;
  });

  // Forms that say what they do before they do it (withdrawing a request).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // The receipt link: copy it in one tap.
  var copy = document.getElementById("copy-receipt");
  if (copy) {
    copy.addEventListener("click", function () {
      var input = document.getElementById(copy.dataset.copy);
      var status = document.getElementById("copy-status");
      function done(ok) {
        status.textContent = ok ? copy.dataset.copied : copy.dataset.copyFailed;
      }
      input.focus();
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); },
          function () { done(false); });
      } else {
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        done(ok);
      }
    });
  }

  var photo = document.getElementById("claim-photo");
  if (!photo) return;

  // --- Choosing a face: the buttons on the photo and the radio list stay in step. ---
  var status = document.getElementById("face-status");
  var buttons = Array.prototype.slice.call(photo.querySelectorAll("button.face"));
  var form = document.getElementById("face-form");

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function choose(id, announce) {
    var chosen = null;
    buttons.forEach(function (b) {
      var on = b.dataset.face === id;
      b.classList.toggle("selected", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) chosen = b;
    });
    var radio = document.getElementById("face-" + id);
    if (radio) radio.checked = true;
    if (chosen && announce) {
      say(word("chosen", { number: chosen.dataset.number }));
    }
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () { choose(b.dataset.face, true); });
  });
  if (form) {
    form.querySelectorAll("input[name=face]").forEach(function (radio) {
      radio.addEventListener("change", function () { choose(radio.value, true); });
      if (radio.checked) choose(radio.value, false);
    });
    form.addEventListener("submit", function (event) {
      var kind = event.submitter ? event.submitter.value : "";
      if ((kind === "blur_me" || kind === "show_me") &&
          !form.querySelector("input[name=face]:checked")) {
        event.preventDefault();
        say(word("choose_first"), true);
        photo.scrollIntoView({ block: "nearest" });
      }
    });
  }

  // --- Drawing a box around a missed face, in master pixels. ---
  var toggle = document.getElementById("draw-toggle");
  var layer = document.getElementById("draw-layer");
  var box = document.getElementById("draw-box");
  var submit = document.getElementById("choice-missed_face");
  var help = document.getElementById("draw-help");
  var bar = document.getElementById("draw-bar");
  var cancel = document.getElementById("draw-cancel");
  if (!toggle || !layer || !box || !submit || !bar) return;
  var W = parseFloat(photo.dataset.width);
  var H = parseFloat(photo.dataset.height);
  var MIN = parseFloat(photo.dataset.minBox) || 4;
  var start = null;
  var drawing = false;

  function clear() {
    ["x1", "y1", "x2", "y2"].forEach(function (k) {
      document.getElementById("missed-" + k).value = "";
    });
    box.hidden = true;
    submit.disabled = true;
  }

  // Drawing mode: the photo takes the pointer, and a bar right under it holds the
  // send button (it submits the missed-face form from there, by its form attribute).
  function setDrawing(on) {
    drawing = on;
    photo.classList.toggle("drawing", on);
    layer.hidden = !on;
    bar.hidden = !on;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? word("stop") : word("start");
    if (on) {
      help.textContent = word("drag");
      photo.scrollIntoView({ block: "start", behavior: "smooth" });
    } else {
      clear();
    }
  }

  function point(event) {
    var r = layer.getBoundingClientRect();
    return {
      x: Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)),
      y: Math.min(1, Math.max(0, (event.clientY - r.top) / r.height))
    };
  }

  function show(a, b) {
    box.hidden = false;
    place(box, 100 * Math.min(a.x, b.x), 100 * Math.min(a.y, b.y),
          100 * Math.abs(a.x - b.x), 100 * Math.abs(a.y - b.y));
  }

  function finish(a, b) {
    var x1 = Math.round(Math.min(a.x, b.x) * W), x2 = Math.round(Math.max(a.x, b.x) * W);
    var y1 = Math.round(Math.min(a.y, b.y) * H), y2 = Math.round(Math.max(a.y, b.y) * H);
    document.getElementById("missed-x1").value = x1;
    document.getElementById("missed-y1").value = y1;
    document.getElementById("missed-x2").value = x2;
    document.getElementById("missed-y2").value = y2;
    var ok = x2 - x1 >= MIN && y2 - y1 >= MIN;
    submit.disabled = !ok;
    box.classList.toggle("too-small", !ok);
    help.textContent = ok ? word("drawn") : word("too_small");
  }

  toggle.addEventListener("click", function () { setDrawing(!drawing); });
  if (cancel) cancel.addEventListener("click", function () { setDrawing(false); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drawing) setDrawing(false);
  });
  layer.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    layer.setPointerCapture(event.pointerId);
    start = point(event);
    show(start, start);
  });
  layer.addEventListener("pointermove", function (event) {
    if (!start) return;
    event.preventDefault();
    show(start, point(event));
  });
  layer.addEventListener("pointerup", function (event) {
    if (!start) return;
    var end = point(event);
    show(start, end);
    finish(start, end);
    start = null;
  });
  layer.addEventListener("pointercancel", function () { start = null; });
})();
