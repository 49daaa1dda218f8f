// Place face boxes over an image (positions in percent, from data-box="x y w h").
// Done in script because the page's Content-Security-Policy forbids inline styles.
document.querySelectorAll(".facebox[data-box]").forEach(function (el) {
  "use strict";
  var v = el.dataset.box.split(" ");
  el.style.left = v[0] + "%";
  el.style.top = v[1] + "%";
  el.style.width = v[2] + "%";
  el.style.height = v[3] + "%";
});
