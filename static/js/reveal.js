/* Parts of a form shown only for one choice: an element with data-reveal-when="name=value" is hidden (the `hidden`
   attribute) unless the radio button or select named `name` in the same form has that value. Without JavaScript
   nothing is hidden and every field stays usable; the server ignores the fields the choice does not need.
   Loaded once per page; the listeners sit on the document, so forms swapped in by htmx work too. */
(function () {
  if (window.revealBound) { return; }
  window.revealBound = true;

  function chosen(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) { return input.value; }
      } else {
        return input.value;
      }
    }
    return null;
  }

  function apply(root) {
    var parts = (root || document).querySelectorAll("[data-reveal-when]");
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      var form = part.closest("form");
      var rule = part.getAttribute("data-reveal-when").split("=");
      if (!form || rule.length !== 2) { continue; }
      part.hidden = chosen(form, rule[0]) !== rule[1];
    }
  }

  document.addEventListener("change", function (event) {
    var form = event.target && event.target.closest ? event.target.closest("form") : null;
    if (form) { apply(form); }
  });
  document.addEventListener("htmx:load", function (event) { apply(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { apply(document); });
  } else {
    apply(document);
  }
})();
