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
    // A records page's later rows replaced their placeholder: not a page swap.
    if (target && target.matches && target.matches("tbody.later")) { return; }
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

/* Staff records rows (table.rows): a row's link (the detail) and form (the
   status) carry no hx-get/hx-post and the table turns boosting off, so htmx
   sets up nothing per row on a page of 100. This one listener sends them
   through htmx, into the row's own <tbody>: the row answers with its new
   lines. The form's hx-confirm, the page's CSRF header and the disabled
   submit button while it runs come from htmx as for any element. Without
   JavaScript the link opens the record page and the form posts. */
(function () {
  "use strict";
  var ROW = "table.rows tr[id^='rec-']";

  function send(event, elt, verb, url) {
    var body = elt.closest(ROW) && elt.closest("tbody");
    if (!body || !window.htmx) { return; }
    event.preventDefault();
    window.htmx.ajax(verb, url, { source: elt, event: event, target: body, swap: "innerHTML" });
  }
  document.addEventListener("click", function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) { return; }
    var link = e.target.closest && e.target.closest(ROW + " a[href]");
    if (link && !link.hasAttribute("download")) { send(e, link, "GET", link.getAttribute("href")); }
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form.matches || !form.matches(ROW + " form")) { return; }
    send(e, form, (form.getAttribute("method") || "get").toUpperCase(), form.getAttribute("action"));
  });

  // The later rows of a page replace their placeholder (tbody.later) when
  // it scrolls near; a keyboard user who reached its link goes on to the
  // first new row instead of losing the focus.
  var before = null;
  document.addEventListener("htmx:before:swap", function (e) {
    var target = e.detail && e.detail.ctx && e.detail.ctx.target;
    before = target && target.matches && target.matches("tbody.later") && target.contains(document.activeElement)
      ? target.previousElementSibling : null;
  });
  document.addEventListener("htmx:after:settle", function () {
    var next = before && before.nextElementSibling;
    var first = next && next.querySelector("input, a, select, button");
    before = null;
    if (first) { first.focus(); }
  });
})();
