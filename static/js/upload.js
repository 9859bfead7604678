/* Upload helper for forms marked data-upload (ID-card pictures).
   Checks the other fields first (a POST with _check and no files), then
   shrinks camera photos in the browser before sending (inputs with
   data-shrink="<max side in px>") and shows upload progress, which fetch()
   (and so htmx 4) cannot report. Without JavaScript the form posts as is:
   the server accepts large pictures anyway. */
(function () {
  "use strict";
  var BIG = 1500000;

  function shrink(file, max) {
    if (!file || !/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (img) {
      var scale = Math.min(1, max / Math.max(img.width, img.height));
      if (scale === 1 && file.size < BIG) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale);
      canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function swapIn(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector("#main"), old = document.querySelector("#main");
    if (fresh && old) { old.replaceWith(fresh); }
    // The live region stays; only its content changes, so it is announced.
    var news = doc.querySelector("#flash"), flash = document.querySelector("#flash");
    if (news && flash) { flash.innerHTML = news.innerHTML; }
    if (doc.title) { document.title = doc.title; }
    if (url && url !== location.href) { history.pushState({}, "", url); }
    if (window.htmx) { htmx.process(document.querySelector("#main")); }
    if (window.GradProof) { GradProof.init(document); GradProof.focusPage(document); }
  }

  function failed(form, button, bar) {
    if (button) { button.disabled = false; }
    form.classList.remove("htmx-request");
    if (bar) { bar.hidden = true; }
    alert(form.getAttribute("data-error") || "Network error, please try again.");
  }

  // The form came back with errors before any picture was sent: show it, and
  // put the pictures already chosen back into the new file inputs.
  function showErrors(html, inputs) {
    var chosen = {};
    inputs.forEach(function (input) { if (input.files && input.files.length) { chosen[input.name] = input.files; } });
    swapIn(html, null);
    Object.keys(chosen).forEach(function (name) {
      var fresh = document.querySelector("form[data-upload] input[type=file][name='" + name + "']");
      if (fresh) { try { fresh.files = chosen[name]; } catch (e) { /* the user picks again */ } }
    });
  }

  function upload(form, inputs, button, bar) {
    var data = new FormData(form);
    Promise.all(inputs.map(function (input) {
      var file = input.files && input.files[0];
      return shrink(file, parseInt(input.getAttribute("data-shrink"), 10) || 1600).then(function (small) {
        if (small) { data.set(input.name, small, small.name); }
      });
    })).then(function () {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      if (bar) {
        bar.hidden = false;
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; } };
      }
      xhr.onload = function () { swapIn(xhr.responseText, xhr.responseURL); };
      xhr.onerror = function () { failed(form, button, bar); };
      xhr.send(data);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-upload]")) { return; }
    event.preventDefault();
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file]"));
    var button = form.querySelector("button[type=submit]");
    var bar = form.querySelector("progress.upload");
    if (button && button.disabled) { return; }
    if (button) { button.disabled = true; }
    form.classList.add("htmx-request");
    // First the other fields alone (_check): the pictures travel only once
    // everything else is right, so a wrong phone number costs no upload.
    var check = new FormData(form);
    inputs.forEach(function (input) { check.delete(input.name); });
    check.set("_check", "1");
    fetch(form.action, { method: "POST", body: check, credentials: "same-origin" }).then(function (response) {
      if (response.status === 204) { return upload(form, inputs, button, bar); }
      return response.text().then(function (html) { showErrors(html, inputs); });
    }).catch(function () { failed(form, button, bar); });
  });
})();
