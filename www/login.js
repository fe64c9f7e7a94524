// Progressive enhancement for the sign-in form (it works without this script):
//  - shows the message for `?error=<code>` (set by the worker after a failed form post) in the
//    page's live region, and marks the fields invalid when the credentials were wrong;
//  - carries `?next=<path>` into the hidden `next` field so the user lands where they were going;
//  - blocks double submission.
(function () {
  "use strict";

  var MESSAGES = {
    invalid_credentials: "The username or password is incorrect.",
    rate_limited: "Too many failed attempts. Wait a few minutes, then try again.",
    bad_request: "The sign-in form could not be read. Please try again.",
    forbidden: "This sign-in request was refused. Reload the page and try again.",
    cross_site: "This sign-in request was refused. Reload the page and try again.",
    session_expired: "Your session has ended. Please sign in again."
  };
  var FALLBACK = "Signing in did not work. Please try again.";

  function start() {
    var params = new URLSearchParams(window.location.search);
    var form = document.getElementById("login-form");
    var next = document.getElementById("next");
    var errorBox = document.getElementById("login-error");
    var username = document.getElementById("username");
    var password = document.getElementById("password");
    var submit = document.getElementById("submit");

    // This script checks empty fields itself (with a message in the live region); without it the
    // browser's own `required` validation applies.
    form.noValidate = true;

    // Only same-origin paths; the worker sanitises `next` again, this is just to avoid echoing junk.
    var target = params.get("next");
    if (target && target.charAt(0) === "/" && target.charAt(1) !== "/" && target.charAt(1) !== "\\") {
      next.value = target;
    }

    var code = params.get("error");
    if (code) {
      var text = Object.prototype.hasOwnProperty.call(MESSAGES, code) ? MESSAGES[code] : FALLBACK;
      if (code === "session_expired") errorBox.classList.add("info");
      errorBox.textContent = text;
      if (code === "invalid_credentials") {
        username.setAttribute("aria-invalid", "true");
        password.setAttribute("aria-invalid", "true");
        // The username is not sent back; the browser may have kept it. Put the cursor where typing helps.
        (username.value ? password : username).focus();
      }
    }

    function clearInvalid() {
      username.removeAttribute("aria-invalid");
      password.removeAttribute("aria-invalid");
    }
    username.addEventListener("input", clearInvalid);
    password.addEventListener("input", clearInvalid);

    form.addEventListener("submit", function (event) {
      if (!username.value.trim() || !password.value) {
        event.preventDefault();
        errorBox.classList.remove("info");
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
