// Progressive enhancement for the sign-in form. The page works without this script: the worker
// renders the reason, the error of a failed attempt, the username and `next` into it. This adds:
//  - the cursor where typing helps after a failed attempt;
//  - a message in the live region for empty fields (instead of the browser's own bubble);
//  - no double submission;
//  - signing in with a passkey, where the page offers it and the browser can: the button, and the
//    browser's autofill of the username field (conditional mediation). Both fetch a challenge
//    from /auth/passkeys/sign-in/options, hand the options to navigator.credentials.get and send
//    the credential to /auth/passkeys/sign-in, whose answer names where to go.
(function () {
  "use strict";

  // A sign-in challenge is accepted for two to four minutes: the autofill's waiting request is
  // renewed before its challenge could run out.
  var CONDITIONAL_RENEW_MS = 110000;

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (text) {
        var parsed = {};
        try { parsed = text ? JSON.parse(text) : {}; } catch (e) { parsed = {}; }
        if (!res.ok) {
          var err = new Error(parsed.message || "the server answered " + res.status);
          err.code = parsed.error || "http_" + res.status;
          throw err;
        }
        return parsed;
      });
    });
  }

  function passkeyMessage(err) {
    if (err && err.code === "rate_limited") return "Too many failed attempts. Wait a few minutes, then try again.";
    if (err && err.code === "passkey_refused") return "That passkey was not accepted. Try again, or sign in another way.";
    if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) return "Signing in with a passkey was cancelled or timed out.";
    if (err && err.name === "SecurityError") return "Passkeys cannot be used on this address.";
    return "Signing in with a passkey did not work. Please try again.";
  }

  function startPasskeys() {
    var area = document.getElementById("passkey-area");
    var supported = window.PublicKeyCredential && navigator.credentials &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
    if (!area || !supported) return;
    area.hidden = false;
    var button = document.getElementById("passkey-signin");
    var errorBox = document.getElementById("login-error");
    var next = area.getAttribute("data-next") || "/";
    var waiting = null; // the autofill's pending request
    var label = button.textContent;

    function show(message) {
      errorBox.className = "alert";
      errorBox.textContent = message;
    }

    function ceremony(mediation, signal) {
      return post("/auth/passkeys/sign-in/options", {}).then(function (options) {
        var request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey) };
        if (mediation) request.mediation = mediation;
        if (signal) request.signal = signal;
        return navigator.credentials.get(request);
      }).then(function (credential) {
        if (!credential) throw new DOMException("no credential", "NotAllowedError");
        return post("/auth/passkeys/sign-in", { credential: credential.toJSON(), next: next });
      }).then(function (answer) {
        window.location.assign(answer.redirect || "/");
        return new Promise(function () {}); // the page is going away
      });
    }

    // The autofill: a request that waits for the person to pick a passkey in the username
    // field's suggestions, renewed with a fresh challenge before its own runs out. A request that
    // fails is made again after a pause that doubles up to the renewal period; one this address
    // or browser can never make (SecurityError, NotSupportedError) is not made again. Only what
    // concerns a passkey the person picked is shown: nobody asked for the request itself.
    var pause = 5000;
    function arm() {
      var controller = new AbortController();
      waiting = controller;
      var renew = setTimeout(function () { controller.abort(); }, CONDITIONAL_RENEW_MS);
      ceremony("conditional", controller.signal).catch(function (err) {
        clearTimeout(renew);
        if (waiting !== controller) return; // the button took over
        if (controller.signal.aborted) { arm(); return; } // renewed
        waiting = null;
        if (err && (err.code === "passkey_refused" || err.code === "rate_limited")) show(passkeyMessage(err));
        if (err && (err.name === "SecurityError" || err.name === "NotSupportedError")) return;
        setTimeout(function () { if (!waiting && !button.disabled) arm(); }, pause);
        pause = Math.min(pause * 2, CONDITIONAL_RENEW_MS);
      });
    }

    function disarm() {
      var controller = waiting;
      waiting = null;
      if (controller) controller.abort();
    }

    var conditional = false;
    button.addEventListener("click", function () {
      if (button.disabled) return;
      disarm();
      button.disabled = true;
      button.textContent = "Waiting for your passkey\u2026";
      ceremony(null, null).catch(function (err) {
        show(passkeyMessage(err));
        button.disabled = false;
        button.textContent = label;
        if (conditional) arm();
      });
    });

    if (typeof PublicKeyCredential.isConditionalMediationAvailable === "function" &&
        document.querySelector("input[autocomplete~='webauthn']")) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        conditional = available;
        if (available) arm();
      }, function () {});
    }
  }

  function start() {
    startPasskeys();
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
