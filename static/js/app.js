/* GradProof page behaviour on top of htmx 4 (CSP script-src 'self': no
   inline scripts, no hx-on). Everything here is an enhancement; every page
   works without it.
   - focus: after a page swap, the error summary or the h1 takes the focus
   - correction form: ticking "wrong" moves to the input for the right value
   - photo: tap to see the large photo at full width
   - countdown: a disabled button with data-wait=<seconds> counts down */
(function () {
  "use strict";
  var doc = document;

  function focusPage(root) {
    var target = root.querySelector(".error-summary") || root.querySelector("main h1");
    if (!target) { return; }
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus();
    if (target.tagName === "H1") { window.scrollTo(0, 0); }
  }

  function countdown(button) {
    var left = parseInt(button.getAttribute("data-wait"), 10);
    var out = doc.getElementById(button.getAttribute("aria-describedby"));
    var tpl = button.getAttribute("data-wait-text");
    if (!left || !out || !tpl) { return; }
    var timer = setInterval(function () {
      left -= 1;
      if (!button.isConnected) { clearInterval(timer); return; }
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        out.hidden = true;
        return;
      }
      out.textContent = tpl.replace("%m", Math.floor(left / 60)).replace("%s", left % 60);
    }, 1000);
  }

  function init(root) {
    Array.prototype.forEach.call(root.querySelectorAll("button[data-wait]"), countdown);
  }

  doc.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches(".fix input[type=checkbox]")) {
      if (box.checked) {
        var input = box.closest(".fix").querySelector(".new input");
        if (input) { input.focus(); }
      }
    }
  });

  doc.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.zoom");
    if (!link || !window.HTMLDialogElement) { return; }
    event.preventDefault();
    var dialog = doc.createElement("dialog");
    var img = doc.createElement("img");
    var close = doc.createElement("button");
    dialog.className = "zoomed";
    img.src = link.href;
    img.alt = link.getAttribute("data-alt") || "";
    close.type = "button";
    close.textContent = link.getAttribute("data-close") || "×";
    dialog.append(img, close);
    dialog.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); link.focus(); });
    doc.body.append(dialog);
    dialog.showModal();
    close.focus();
  });

  // The in-flight state from the very tap (capture phase, before htmx sets
  // the request up); htmx clears it when the request ends.
  function busy(elt) {
    if (!elt || !elt._htmx || !elt._htmx.boosted || elt.classList.contains("htmx-request")) { return; }
    elt.classList.add("htmx-request");
    elt.addEventListener("htmx:finally:request", function () { elt.classList.remove("htmx-request"); }, { once: true });
  }
  doc.addEventListener("submit", function (event) { busy(event.target); }, true);
  doc.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) { busy(link); }
  }, true);

  doc.addEventListener("htmx:after:swap", function (event) {
    var ctx = event.detail && event.detail.ctx;
    var target = ctx && ctx.target;
    if (!target || !target.isConnected) { target = doc.body; }
    init(target);
    // A whole page (boosted link or form) or a form that came back: focus.
    // Inline validation of one field keeps the focus where the user is.
    if (target === doc.body || target.id === "main" || target.querySelector(".error-summary")) {
      focusPage(target === doc.body ? doc : target);
    }
  });

  function ready() {
    init(doc);
    var summary = doc.querySelector(".error-summary");
    if (summary && doc.activeElement !== summary) { summary.focus(); }
  }
  if (doc.readyState === "loading") { doc.addEventListener("DOMContentLoaded", ready); } else { ready(); }
  window.GradProof = { focusPage: focusPage, init: init };
})();

/* Staff tables: a form marked data-keep-focus="<id>" (a row's inline status
   change) is swapped away with its row; put the focus on the new row's
   control of that id, as a keyboard user expects. */
(function () {
  "use strict";
  var keep = null;
  document.addEventListener("submit", function (e) {
    var form = e.target;
    keep = form.getAttribute && form.getAttribute("data-keep-focus");
  }, true);
  document.addEventListener("htmx:after:settle", function () {
    var control = keep && document.getElementById(keep);
    if (control) { keep = null; control.focus(); }
  });
})();
