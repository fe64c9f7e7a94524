// Progressive enhancement for the sign-in form. The page works without this script: the worker
// renders the reason, the error of a failed attempt, the username and `next` into it. This adds:
//  - the cursor where typing helps after a failed attempt;
//  - a message in the live region for empty fields (instead of the browser's own bubble);
//  - no double submission.
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("login-form");
    if (!form) return; // the "already signed in" view has no form
    var errorBox = document.getElementById("login-error");
    var username = document.getElementById("username");
    var password = document.getElementById("password");
    var submit = document.getElementById("submit");

    form.noValidate = true;

    if (username.getAttribute("aria-invalid") === "true") {
      (username.value ? password : username).focus();
    } else if (!username.value) {
      username.focus();
    }

    function clearInvalid() {
      username.setAttribute("aria-invalid", "false");
      password.setAttribute("aria-invalid", "false");
    }
    username.addEventListener("input", clearInvalid);
    password.addEventListener("input", clearInvalid);

    form.addEventListener("submit", function (event) {
      if (!username.value.trim() || !password.value) {
        event.preventDefault();
        errorBox.className = "alert";
        errorBox.textContent = "Enter your username and password.";
        (username.value.trim() ? password : username).focus();
        return;
      }
      if (submit.disabled) {
        event.preventDefault();
        return;
      }
      submit.disabled = true;
      submit.textContent = "Signing in\u2026";
    });

    // Coming back with the browser's back button restores the page from cache: re-enable the button.
    window.addEventListener("pageshow", function () {
      submit.disabled = false;
      submit.textContent = "Sign in";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
