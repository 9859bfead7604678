/* Crop preview for a staff photo upload (templates/staff/photo_preview.html).
   Shows a 3:4 frame over the whole uploaded picture; dragging it (mouse,
   touch or pen) or the arrow keys move the crop. The new position goes into
   the Save form's x/y fields (ImageOps.fit centering, 0–1), the cropped
   result image and the compliance warnings are refreshed from the server.
   Without JavaScript the server's crop and the nudge links still work. */
(function () {
  "use strict";
  var STEP = 0.02;

  function clamp(v) { return Math.min(1, Math.max(0, v)); }

  function geometry(img) {
    var w = img.clientWidth, h = img.clientHeight, fw, fh;
    if (w * 4 > h * 3) { fh = h; fw = h * 3 / 4; } else { fw = w; fh = w * 4 / 3; }
    return { w: w, h: h, fw: fw, fh: fh };
  }

  function place(box) {
    var img = box.querySelector("img"), frame = box.querySelector(".frame");
    if (!img || !frame || !img.clientWidth) { return; }
    var g = geometry(img), x = parseFloat(box.dataset.x), y = parseFloat(box.dataset.y);
    frame.style.width = g.fw + "px";
    frame.style.height = g.fh + "px";
    frame.style.left = (g.w - g.fw) * x + "px";
    frame.style.top = (g.h - g.fh) * y + "px";
    frame.hidden = false;
    frame.tabIndex = 0;
    frame.setAttribute("role", "group");
    frame.setAttribute("aria-label", box.dataset.label || "crop");
  }

  function commit(box) {
    var x = parseFloat(box.dataset.x).toFixed(3), y = parseFloat(box.dataset.y).toFixed(3);
    var form = document.getElementById("crop-form"), result = document.getElementById("crop-result");
    if (form) { form.elements.x.value = x; form.elements.y.value = y; }
    if (result) {
      var src = new URL(result.src, location.href);
      src.searchParams.set("x", x); src.searchParams.set("y", y);
      result.src = src.href;
    }
    var page = new URL(location.href);
    page.searchParams.set("x", x); page.searchParams.set("y", y);
    history.replaceState(history.state, "", page.href);
    fetch(page.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("crop-warnings"), old = document.getElementById("crop-warnings");
      if (fresh && old) { old.replaceWith(fresh); }
    }).catch(function () {});
  }

  var drag = null;

  document.addEventListener("load", function (e) {
    var box = e.target.closest && e.target.closest("[data-crop]");
    if (box) { place(box); }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-crop]"), place);
  });

  document.addEventListener("pointerdown", function (e) {
    var frame = e.target.closest && e.target.closest("[data-crop] .frame");
    if (!frame) { return; }
    var box = frame.parentNode, g = geometry(box.querySelector("img"));
    drag = { box: box, g: g, sx: e.clientX, sy: e.clientY, x: parseFloat(box.dataset.x), y: parseFloat(box.dataset.y) };
    frame.setPointerCapture(e.pointerId);
    e.preventDefault();
  });

  document.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var g = drag.g;
    if (g.w > g.fw) { drag.box.dataset.x = clamp(drag.x + (e.clientX - drag.sx) / (g.w - g.fw)); }
    if (g.h > g.fh) { drag.box.dataset.y = clamp(drag.y + (e.clientY - drag.sy) / (g.h - g.fh)); }
    place(drag.box);
  });

  document.addEventListener("pointerup", function () {
    if (!drag) { return; }
    var box = drag.box;
    drag = null;
    commit(box);
  });

  document.addEventListener("keydown", function (e) {
    var frame = e.target.closest && e.target.closest("[data-crop] .frame");
    var moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    if (!frame || !moves[e.key]) { return; }
    var box = frame.parentNode;
    box.dataset.x = clamp(parseFloat(box.dataset.x) + moves[e.key][0]);
    box.dataset.y = clamp(parseFloat(box.dataset.y) + moves[e.key][1]);
    place(box);
    commit(box);
    e.preventDefault();
  });
})();
