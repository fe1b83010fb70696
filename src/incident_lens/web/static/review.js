// Keyboard review: a = accept, s = skip, c = type a correction (Enter submits it), Esc leaves a text box.
(function () {
  const form = document.getElementById("decide");
  if (!form) return;
  const action = document.getElementById("action");
  const correction = document.getElementById("new");
  let sent = false;
  function submit(kind) {
    if (sent) return;  // one decision per page: a held-down key must not send two
    sent = true;
    action.value = kind;
    form.submit();
  }
  form.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      submit(button.dataset.action);
    });
  });
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      submit("correct");
    }
  });
  document.addEventListener("keydown", function (event) {
    const typing = event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA";
    if (event.key === "Escape" && typing) { event.target.blur(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "a") { event.preventDefault(); submit("accept"); }
    else if (event.key === "s") { event.preventDefault(); submit("skip"); }
    else if (event.key === "c") { event.preventDefault(); correction.focus(); }
  });
})();
