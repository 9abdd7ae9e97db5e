/* Proceedings record: Ctrl+Enter (Cmd+Enter on a Mac) in a text box of a form marked data-ctrl-enter submits it.
   htmx, when loaded, sends it and swaps the answer; without it the form posts as usual. Loaded once per page;
   the listener sits on the document, so forms swapped in later work too. */
(function () {
  if (window.recordKeysBound) { return; }
  window.recordKeysBound = true;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) { return; }
    var target = event.target;
    var form = target && target.closest ? target.closest("form[data-ctrl-enter]") : null;
    if (!form || target.tagName !== "TEXTAREA") { return; }
    event.preventDefault();
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
