// The console reads and works without this script; it only adds the Copy buttons.
"use strict";

function copyStatus(targetId, text) {
  var status = document.querySelector('[data-copy-status="' + targetId + '"]');
  if (status) {
    status.textContent = text;
  }
}

function copyFrom(button) {
  var targetId = button.getAttribute("data-copy");
  var field = document.getElementById(targetId);
  if (!field) {
    return;
  }
  var done = function () {
    button.textContent = "Copied";
    copyStatus(targetId, "Copied to the clipboard.");
  };
  var fallback = function () {
    field.focus();
    field.select();
    try {
      if (document.execCommand("copy")) {
        done();
        return;
      }
    } catch (ignored) {
      // fall through to the message below
    }
    copyStatus(targetId, "Select the value and copy it with your keyboard.");
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(done, fallback);
  } else {
    fallback();
  }
}

document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) {
      copyFrom(event.currentTarget);
    });
  }
});
