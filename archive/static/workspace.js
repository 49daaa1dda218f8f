// The moderators' review pages: "select all" on the queue, and the photo workspace's box
// editor over the master (an SVG in the master's pixels), with keyboard shortcuts.
// No framework, no inline script or style (the Content-Security-Policy forbids both):
// boxes are SVG attributes, and the whole set is saved as JSON in one request, with the
// CSRF token in the X-CSRFToken header. The server checks every rule again.
// Every sentence it shows comes from the page, in the page's language: the JSON block
// #workspace-words (not executed), with {name} placeholders filled here.
(function () {
  "use strict";

  var WORDS = {};
  var wordsBlock = document.getElementById("workspace-words");
  if (wordsBlock) {
    try { WORDS = JSON.parse(wordsBlock.textContent) || {}; } catch (e) { WORDS = {}; }
  }
  function t(key, values) {
    var text = typeof WORDS[key] === "string" ? WORDS[key] : "";
    return text.replace(/\{([a-z_]+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

  document.querySelectorAll(".js-only[hidden]").forEach(function (el) { el.hidden = false; });

  // --- The queue: select every row at once. ---
  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=" + all.dataset.selectAll + "]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
  var skip = document.getElementById("bulk-skip");
  var skipReason = document.getElementById("bulk-skip-reason");
  if (skip && skipReason) {
    skip.addEventListener("change", function () { skipReason.required = skip.checked; });
  }

  // --- The workspace: "after approving or rejecting" is one choice for every decision
  // form (the server remembers it; the other forms carry a copy of it). ---
  document.querySelectorAll("input[name=then][type=radio]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      document.querySelectorAll("input.then-copy").forEach(function (copy) {
        copy.value = radio.value;
      });
    });
  });

  // --- The workspace. ---
  var stage = document.getElementById("stage-master");
  var svg = document.getElementById("face-svg");
  var status = document.getElementById("box-status");
  var SVGNS = "http://www.w3.org/2000/svg";
  var editable = !!(stage && svg && stage.dataset.editable === "yes" && status);
  var W = stage ? parseFloat(stage.dataset.width) : 0;
  var H = stage ? parseFloat(stage.dataset.height) : 0;
  var STEP = stage ? parseFloat(stage.dataset.step) || 1 : 1;
  var MIN = stage ? parseFloat(stage.dataset.minBox) || 4 : 4;
  var boxes = [];      // {id, number, source, locked, shown, orig, x1, y1, x2, y2, g}
  var removed = [];    // boxes removed since the page loaded (with an id)
  var known = [];      // ids the page was loaded with
  var selected = null;
  var handle = null;
  var drag = null;
  var saving = false;

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  function dirty() {
    if (removed.length) return true;
    return boxes.some(function (b) {
      return b.id === null || b.orig.some(function (v, i) {
        return Math.abs(v - [b.x1, b.y1, b.x2, b.y2][i]) > 0.01;
      });
    });
  }

  function needsReason() {
    return removed.some(function (b) { return b.source === "detected" || b.source === "photographer"; });
  }

  function refreshTools() {
    var save = document.getElementById("save-boxes");
    var del = document.getElementById("delete-box");
    var reason = document.getElementById("delete-reason-field");
    if (save) save.disabled = saving || !dirty();
    if (del) del.disabled = selected === null;
    if (reason) reason.hidden = !needsReason();
  }

  // Sizes in the master's pixels that look the same on screen whatever the zoom.
  function unit() {
    var r = svg.getBoundingClientRect();
    return r.width ? W / r.width : 1;
  }

  function draw(b) {
    var rect = b.g.querySelector("rect");
    var text = b.g.querySelector("text");
    rect.setAttribute("x", b.x1);
    rect.setAttribute("y", b.y1);
    rect.setAttribute("width", Math.max(0, b.x2 - b.x1));
    rect.setAttribute("height", Math.max(0, b.y2 - b.y1));
    if (text) {
      var k = unit();
      text.setAttribute("font-size", Math.round(14 * k));
      text.setAttribute("x", b.x1);
      // Above the box, or inside it when the box touches the top.
      text.setAttribute("y", b.y1 < 18 * k ? b.y1 + 15 * k : b.y1);
      text.setAttribute("dy", b.y1 < 18 * k ? "0" : "-0.25em");
    }
    b.g.classList.toggle("unsaved", b.id === null || b.orig.some(function (v, i) {
      return Math.abs(v - [b.x1, b.y1, b.x2, b.y2][i]) > 0.01;
    }));
    if (b === selected) placeHandle();
  }

  function placeHandle() {
    if (!handle) return;
    if (selected === null) { handle.setAttribute("visibility", "hidden"); return; }
    var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    var size = (coarse ? 28 : 16) * unit();
    handle.setAttribute("visibility", "visible");
    handle.setAttribute("x", selected.x2 - size / 2);
    handle.setAttribute("y", selected.y2 - size / 2);
    handle.setAttribute("width", size);
    handle.setAttribute("height", size);
  }

  function select(b, focus) {
    if (selected && selected.g) selected.g.classList.remove("selected");
    selected = b;
    if (b) {
      b.g.classList.add("selected");
      if (focus) b.g.focus({ preventScroll: true });
      say(t("selected", { label: label(b) }));
    }
    placeHandle();
    refreshTools();
  }

  function label(b) {
    var sources = WORDS.sources || {};
    return b.id === null ? t("new_box")
      : t("face_label", { number: b.number, source: sources[b.source] || b.source });
  }

  function makeGroup(b) {
    var g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "face-box");
    g.setAttribute("tabindex", "0");
    g.setAttribute("aria-label", t("new_box_unsaved"));
    var rect = document.createElementNS(SVGNS, "rect");
    rect.setAttribute("vector-effect", "non-scaling-stroke");
    var text = document.createElementNS(SVGNS, "text");
    text.textContent = "+";
    g.appendChild(rect);
    g.appendChild(text);
    svg.insertBefore(g, handle);  // the handle stays on top
    b.g = g;
    wire(b);
    return b;
  }

  function wire(b) {
    b.g.addEventListener("focus", function () { if (selected !== b) select(b, false); });
  }

  function addBox(x1, y1, x2, y2) {
    var b = makeGroup({ id: null, number: null, source: "moderator", locked: false,
                        shown: false, orig: [], x1: x1, y1: y1, x2: x2, y2: y2 });
    boxes.push(b);
    draw(b);
    select(b, true);
    say(t("added"));
    refreshTools();
    return b;
  }

  function removeSelected() {
    var b = selected;
    if (!b) return;
    if (b.locked || b.source === "claim") {
      say(t("locked_delete"), true);
      return;
    }
    if (b.shown) {
      say(t("shown_delete"), true);
      return;
    }
    boxes.splice(boxes.indexOf(b), 1);
    if (b.id !== null) removed.push(b);
    b.g.remove();
    select(null);
    refreshTools();
    var reason = document.getElementById("delete-reason");
    if (needsReason() && reason) {
      say(t("removed_reason"));
    } else {
      say(t("removed"));
    }
  }

  // A change the ratchet refuses, caught here so that the moderator knows at once.
  function allowed(b, x1, y1, x2, y2) {
    if (b.shown) {
      say(t("shown_move"), true);
      return false;
    }
    if (b.locked && !(x1 <= b.orig[0] + 0.01 && y1 <= b.orig[1] + 0.01 &&
                      x2 >= b.orig[2] - 0.01 && y2 >= b.orig[3] - 0.01)) {
      say(t("locked_move"), true);
      return false;
    }
    return true;
  }

  function setBox(b, x1, y1, x2, y2) {
    if (!allowed(b, x1, y1, x2, y2)) return false;
    b.x1 = x1; b.y1 = y1; b.x2 = x2; b.y2 = y2;
    draw(b);
    refreshTools();
    return true;
  }

  function moveBy(b, dx, dy) {
    var w = b.x2 - b.x1, h = b.y2 - b.y1;
    var x1 = clamp(b.x1 + dx, 0, W - w), y1 = clamp(b.y1 + dy, 0, H - h);
    setBox(b, x1, y1, x1 + w, y1 + h);
  }

  function resizeBy(b, dw, dh) {
    var x2 = clamp(b.x2 + dw, b.x1 + MIN, W), y2 = clamp(b.y2 + dh, b.y1 + MIN, H);
    setBox(b, b.x1, b.y1, x2, y2);
  }

  function point(event) {
    var r = svg.getBoundingClientRect();
    return {
      x: clamp((event.clientX - r.left) / r.width * W, 0, W),
      y: clamp((event.clientY - r.top) / r.height * H, 0, H)
    };
  }

  function save() {
    if (saving || !dirty()) return;
    var reasonInput = document.getElementById("delete-reason");
    var reason = reasonInput ? reasonInput.value.trim() : "";
    if (needsReason() && !reason) {
      say(t("need_reason"), true);
      if (reasonInput) reasonInput.focus();
      return;
    }
    var token = document.querySelector("meta[name=csrf-token]");
    var payload = {
      boxes: boxes.map(function (b) {
        // Unrounded: a detected box's edges are fractions, and an untouched box must
        // arrive exactly as it was (the server rounds what changed).
        return { id: b.id, box: [b.x1, b.y1, b.x2, b.y2] };
      }),
      known: known,
      delete_reason: reason
    };
    saving = true;
    refreshTools();
    say(t("saving"));
    fetch(stage.dataset.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": token ? token.content : "" },
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.error || t("save_error", { status: response.status }));
        return body;
      });
    }).then(function (body) {
      removed = [];
      boxes.forEach(function (b) { b.orig = [b.x1, b.y1, b.x2, b.y2]; });
      say(body.message || t("saved"));
      window.location.reload();
    }).catch(function (err) {
      saving = false;
      refreshTools();
      say(err.message || t("offline"), true);
    });
  }

  if (editable) {
    handle = document.createElementNS(SVGNS, "rect");
    handle.setAttribute("class", "handle");
    handle.setAttribute("visibility", "hidden");
    handle.setAttribute("vector-effect", "non-scaling-stroke");
    svg.appendChild(handle);
    svg.querySelectorAll("g.face-box").forEach(function (g) {
      var v = g.dataset.box.split(" ").map(parseFloat);
      var b = { id: parseInt(g.dataset.id, 10), number: g.dataset.number, source: g.dataset.source,
                locked: g.dataset.locked === "yes", shown: g.dataset.decision === "show",
                orig: v.slice(), x1: v[0], y1: v[1], x2: v[2], y2: v[3], g: g };
      boxes.push(b);
      known.push(b.id);
      wire(b);
      draw(b);
    });
    svg.classList.add("editing");

    var rescale = function () { boxes.forEach(draw); placeHandle(); };
    if (window.ResizeObserver) new ResizeObserver(rescale).observe(svg);
    window.addEventListener("load", rescale);

    svg.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      event.preventDefault();
      var p = point(event);
      var g = event.target.closest ? event.target.closest("g.face-box") : null;
      if (event.target === handle && selected) {
        drag = { mode: "resize", b: selected, start: p, box: [selected.x1, selected.y1, selected.x2, selected.y2] };
      } else if (g) {
        var b = boxes.filter(function (x) { return x.g === g; })[0];
        select(b, true);
        drag = { mode: "move", b: b, start: p, box: [b.x1, b.y1, b.x2, b.y2], moved: false };
      } else {
        select(null);
        if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
        var preview = document.createElementNS(SVGNS, "rect");
        preview.setAttribute("class", "drawing");
        preview.setAttribute("vector-effect", "non-scaling-stroke");
        svg.insertBefore(preview, handle);
        drag = { mode: "draw", start: p, preview: preview };
      }
      svg.setPointerCapture(event.pointerId);
    });

    svg.addEventListener("pointermove", function (event) {
      if (!drag) return;
      event.preventDefault();
      var p = point(event);
      var dx = p.x - drag.start.x, dy = p.y - drag.start.y;
      if (drag.mode === "draw") {
        drag.preview.setAttribute("x", Math.min(p.x, drag.start.x));
        drag.preview.setAttribute("y", Math.min(p.y, drag.start.y));
        drag.preview.setAttribute("width", Math.abs(dx));
        drag.preview.setAttribute("height", Math.abs(dy));
      } else if (drag.mode === "move") {
        if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 3 * unit()) return;  // a click
        drag.moved = true;
        var w = drag.box[2] - drag.box[0], h = drag.box[3] - drag.box[1];
        var x1 = clamp(drag.box[0] + dx, 0, W - w), y1 = clamp(drag.box[1] + dy, 0, H - h);
        if (!setBox(drag.b, x1, y1, x1 + w, y1 + h)) drag = null;
      } else if (drag.mode === "resize") {
        var x2 = clamp(drag.box[2] + dx, drag.box[0] + MIN, W);
        var y2 = clamp(drag.box[3] + dy, drag.box[1] + MIN, H);
        if (!setBox(drag.b, drag.box[0], drag.box[1], x2, y2)) drag = null;
      }
    });

    var finish = function (event) {
      if (!drag) return;
      if (drag.mode === "draw") {
        var p = point(event);
        drag.preview.remove();
        var x1 = Math.min(p.x, drag.start.x), y1 = Math.min(p.y, drag.start.y);
        var x2 = Math.max(p.x, drag.start.x), y2 = Math.max(p.y, drag.start.y);
        if (event.type === "pointerup" && x2 - x1 >= MIN && y2 - y1 >= MIN) {
          addBox(Math.round(x1), Math.round(y1), Math.round(x2), Math.round(y2));
        } else if (event.type === "pointerup" && (x2 - x1 > 2 * unit() || y2 - y1 > 2 * unit())) {
          say(t("too_small"), true);
        }
      }
      drag = null;
    };
    svg.addEventListener("pointerup", finish);
    svg.addEventListener("pointercancel", finish);

    document.getElementById("add-box").addEventListener("click", function () { addMiddle(); });
    document.getElementById("delete-box").addEventListener("click", removeSelected);
    document.getElementById("save-boxes").addEventListener("click", save);
    window.addEventListener("beforeunload", function (event) {
      if (dirty() && !saving) { event.preventDefault(); event.returnValue = ""; }
    });
    refreshTools();
  }

  function addMiddle() {
    var side = Math.max(MIN, Math.round(Math.min(W, H) / 8));
    var x1 = Math.round((W - side) / 2), y1 = Math.round((H - side) / 2);
    addBox(x1, y1, x1 + side, y1 + side);
  }

  // On a touch screen the key legend is folded away (it stays one tap away).
  var legend = document.getElementById("shortcuts");
  if (legend && window.matchMedia && window.matchMedia("(pointer: coarse)").matches) {
    legend.open = false;
  }

  // --- Keys: the box editor's, and the workspace's shortcuts. ---
  var onWorkspace = !!document.getElementById("photo-facts");
  if (!onWorkspace) return;
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var key = event.key;
    var arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (editable && selected && arrows[key]) {
      event.preventDefault();
      var d = arrows[key], step = event.shiftKey ? STEP * 10 : STEP;
      if (event.altKey) resizeBy(selected, d[0] * step, d[1] * step);
      else moveBy(selected, d[0] * step, d[1] * step);
      return;
    }
    if (event.altKey) return;
    if (editable && selected && (key === "Delete" || key === "Backspace")) {
      event.preventDefault();
      removeSelected();
    } else if (editable && key === "Escape") {
      select(null);
      say("");
    } else if (editable && (key === "b" || key === "B")) {
      event.preventDefault();
      addMiddle();
    } else if (key === "n" || key === "j") {
      var next = document.getElementById("next-photo");
      if (next) { event.preventDefault(); window.location.assign(next.href); }
    } else if (key === "a") {
      var approve = document.getElementById("approve-form");
      if (!approve) return;
      event.preventDefault();
      if (editable && dirty()) {
        say(t("save_first"), true);
        return;
      }
      approve.requestSubmit();
    } else if (key === "r") {
      var reason = document.getElementById("reject-reason");
      if (!reason) return;
      event.preventDefault();
      reason.focus();
      reason.scrollIntoView({ block: "center" });
    }
  });
})();
