/* Progressive enhancement for the casework form: while the student types, save what they have written as
   a draft (a few seconds after they stop), so a closed tab or a timed-out session loses nothing.
   Without JavaScript the "Save and finish later" button does the same. Files are never sent here. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var url = form.getAttribute("data-autosave");
  var status = document.getElementById("autosave-status");
  var timer = null;

  function save() {
    timer = null;
    var data = new FormData(form);
    data.delete("documents");
    data.set("action", "save");
    fetch(url, { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
      if (status && response.ok) {
        var now = new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
        status.textContent = "Draft saved at " + now + ".";
      }
    }).catch(function () { /* offline: the explicit button still works */ });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 4000);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
