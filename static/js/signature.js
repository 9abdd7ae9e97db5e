/* Signature pad for signing an agreement. Each fieldset marked data-signature-pad gets a canvas signature pad
   (signature_pad from npm, loaded on demand from data-vendor) that works with a finger, a pen or a mouse. The
   drawing goes into the hidden field as a PNG data URL when the form is submitted. Without JavaScript (or when the
   signer chooses to), the typed name is used instead: the fieldset shows the text box by default and this script
   swaps in the pad. Safe to load more than once (htmx-boosted pages). */
(function () {
  "use strict";

  function withVendor(src, done) {
    if (window.SignaturePad) { done(); return; }
    var existing = document.querySelector("script[data-signature-vendor]");
    if (existing) { existing.addEventListener("load", done); return; }
    var script = document.createElement("script");
    script.src = src;
    script.setAttribute("data-signature-vendor", "");
    script.addEventListener("load", done);
    document.head.appendChild(script);
  }

  function setUp(fieldset) {
    if (fieldset.getAttribute("data-bound")) { return; }
    fieldset.setAttribute("data-bound", "1");
    withVendor(fieldset.getAttribute("data-vendor"), function () { bind(fieldset); });
  }

  function bind(fieldset) {
    if (!window.SignaturePad) { return; }
    var canvas = fieldset.querySelector("canvas");
    var hidden = fieldset.querySelector("input[type=hidden][name=signature]");
    var draw = fieldset.querySelector(".signature-draw");
    var typed = fieldset.querySelector(".signature-typed");
    var typedInput = typed ? typed.querySelector("input") : null;
    var drawAgain = fieldset.querySelector(".signature-draw-again");
    var form = fieldset.closest("form");
    if (!canvas || !hidden || !draw || !form) { return; }
    var pad = new window.SignaturePad(canvas, { penColor: "#111", minWidth: 0.8, maxWidth: 2.6 });
    var drawing = true;

    var size = "";

    function resize() {
      // The canvas's pixels follow its size on screen (the width of its container) times the screen's density,
      // so strokes are neither stretched nor squashed; the drawing is kept when the size changes.
      var width = canvas.offsetWidth, height = canvas.offsetHeight;
      if (!width || !height) { return; }
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var now = width + "x" + height + "@" + ratio;
      if (now === size) { return; }
      size = now;
      var data = pad.toData();
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
      pad.clear();
      if (data && data.length) { pad.fromData(data); }
    }

    function show(element, visible) {
      // The hidden attribute alone loses to a display rule of the stylesheet (e.g. .field { display: grid }).
      element.hidden = !visible;
      element.style.display = visible ? "" : "none";
    }

    function mode(drawn) {
      drawing = drawn;
      show(draw, drawn);
      if (typed) {
        Array.prototype.forEach.call(typed.children, function (child) {
          if (child !== drawAgain) { show(child, !drawn); }
        });
      }
      if (drawAgain) { show(drawAgain, !drawn); }
      if (drawn) { resize(); } else if (typedInput) { typedInput.focus(); }
    }

    mode(!(typedInput && typedInput.value));
    if (window.ResizeObserver) {
      new window.ResizeObserver(resize).observe(canvas);
    } else {
      window.addEventListener("resize", resize);
    }
    fieldset.querySelector("[data-signature-clear]").addEventListener("click", function () {
      pad.clear();
      hidden.value = "";
    });
    var toTyped = fieldset.querySelector("[data-signature-typed]");
    if (toTyped) { toTyped.addEventListener("click", function () { pad.clear(); mode(false); }); }
    var toDrawn = fieldset.querySelector("[data-signature-drawn]");
    if (toDrawn) {
      toDrawn.addEventListener("click", function () {
        if (typedInput) { typedInput.value = ""; }
        mode(true);
      });
    }
    form.addEventListener("submit", function () {
      hidden.value = drawing && !pad.isEmpty() ? pad.toDataURL("image/png") : "";
      if (drawing && typedInput) { typedInput.value = ""; }
    });
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    Array.prototype.forEach.call(scope.querySelectorAll("[data-signature-pad]"), setUp);
  }

  if (!window.signaturePadsBound) {
    window.signaturePadsBound = true;
    document.addEventListener("htmx:load", function (event) { scan(event.target); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
