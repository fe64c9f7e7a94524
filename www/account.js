// The account page: who is signed in, their active sessions, and ending them. Without this
// script the page still offers both logout forms (this device, and every device after a
// confirmation box), which are plain form posts.
// Talks to the worker's JSON API with same-origin fetches (the session cookies are HttpOnly, so
// this script never sees them):
//   GET    /auth/session          the current user and session
//   GET    /auth/sessions         every live session of the user
//   DELETE /auth/sessions/{id}    end one session
//   POST   /auth/refresh          new access cookie when the short-lived one has expired
//   GET    /auth/passkeys         the user's passkeys (404 when passkeys are off)
//   POST   /auth/passkeys/register/options, then /auth/passkeys/register   add one
//   DELETE /auth/passkeys/{id}    remove one
(function () {
  "use strict";

  var LOGIN = "/auth/login";
  var HERE = "/auth/account";

  var $ = function (id) { return document.getElementById(id); };
  var errorBox, statusBox, list;
  var currentSessionId = null;

  // --- HTTP ------------------------------------------------------------------------------------

  // The edge's 401 codes that say a session existed, and the sign-in page's reason for each.
  var REASONS = {
    session_ended: "session_ended",
    session_expired: "session_expired",
    refresh_reused: "reuse_detected",
    device_mismatch: "device_mismatch"
  };

  // Sign-in replaces this page in the history, so Back does not come here to be sent on again.
  function goToLogin(code) {
    var url = LOGIN + "?next=" + encodeURIComponent(HERE);
    if (REASONS[code]) url += "&reason=" + REASONS[code];
    window.location.replace(url);
  }

  function send(method, path, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  function readJson(res) {
    return res.text().then(function (text) {
      if (!text) return {};
      try {
        return JSON.parse(text);
      } catch (e) {
        return {};
      }
    });
  }

  var gone = new Promise(function () {}); // the page is going away

  // A JSON API call; on 401 it tries one refresh, then sends the user to the sign-in page.
  // Resolves to the parsed body of a 2xx answer; rejects with an Error carrying the message.
  function api(method, path, body, retried) {
    return send(method, path, body).then(function (res) {
      if (res.status === 401) {
        return readJson(res).then(function (body) {
          if (retried) {
            goToLogin(body.error);
            return gone;
          }
          return send("POST", "/auth/refresh").then(function (refreshed) {
            if (refreshed.ok) return api(method, path, body, true);
            return readJson(refreshed).then(function (answer) {
              // Reuse is the refresh's own finding; otherwise the first refusal knows best.
              var reuse = answer.error === "refresh_reused";
              goToLogin(reuse || !REASONS[body.error] ? answer.error : body.error);
              return gone;
            });
          });
        });
      }
      return readJson(res).then(function (body) {
        if (!res.ok) {
          var err = new Error(body.message || "the server answered " + res.status);
          err.code = body.error;
          throw err;
        }
        return body;
      });
    }, function () {
      throw new Error("the server could not be reached; check your connection");
    });
  }

  // --- formatting ------------------------------------------------------------------------------

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    var ms = typeof value === "number" ? (value < 1e12 ? value * 1000 : value) : Date.parse(value);
    return isNaN(ms) ? null : new Date(ms);
  }

  var absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var relative = typeof Intl.RelativeTimeFormat === "function"
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
    : null;

  function fromNow(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    if (!relative) return absolute.format(date);
    if (Math.abs(seconds) < 45) return seconds <= 0 ? "just now" : "in a few seconds";
    var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) return relative.format(Math.round(seconds / units[i][1]), units[i][0]);
    }
    return relative.format(seconds, "second");
  }

  // A <time> element showing a relative time, with the exact one as tooltip and datetime.
  function timeElement(value, style) {
    var date = toDate(value);
    if (!date) {
      var unknown = document.createElement("span");
      unknown.textContent = "unknown";
      return unknown;
    }
    var el = document.createElement("time");
    el.dateTime = date.toISOString();
    el.title = absolute.format(date);
    el.textContent = style === "absolute" ? absolute.format(date) : fromNow(date);
    return el;
  }

  function setTime(target, value) {
    target.textContent = "";
    var date = toDate(value);
    if (!date) {
      target.textContent = "unknown";
      return;
    }
    target.appendChild(timeElement(value, "absolute"));
    target.appendChild(document.createTextNode(" (" + fromNow(date) + ")"));
  }

  // --- messages --------------------------------------------------------------------------------

  function showError(message) {
    statusBox.textContent = "";
    errorBox.textContent = message;
  }

  function showStatus(message) {
    errorBox.textContent = "";
    statusBox.textContent = message;
  }

  // --- rendering -------------------------------------------------------------------------------

  // "30 minutes", "1 hour", "1 hour 30 minutes".
  function duration(seconds) {
    var minutes = Math.round(seconds / 60);
    var hours = Math.floor(minutes / 60);
    var rest = minutes % 60;
    var parts = [];
    if (hours) parts.push(hours + (hours === 1 ? " hour" : " hours"));
    if (rest || !hours) parts.push(rest + (rest === 1 ? " minute" : " minutes"));
    return parts.join(" ");
  }

  // Honest expiry wording: the idle timeout moves with activity, the absolute end does not.
  function appendEnds(target, session) {
    var idle = typeof session.idle_timeout === "number" ? session.idle_timeout : null;
    var latest = toDate(session.absolute_expires_at);
    if (idle && latest) {
      target.appendChild(document.createTextNode("after " + duration(idle) + " without activity, and at "));
      target.appendChild(timeElement(session.absolute_expires_at, "absolute"));
      target.appendChild(document.createTextNode(" at the latest"));
    } else if (toDate(session.expires_at)) {
      target.appendChild(document.createTextNode("if unused, at "));
      target.appendChild(timeElement(session.expires_at, "absolute"));
    } else {
      target.appendChild(document.createTextNode("unknown"));
    }
  }

  function renderIdentity(data, mine) {
    var user = data.user || {};
    var session = data.session || {};
    $("user-id").textContent = user.id || "unknown";
    var roles = $("user-roles");
    roles.textContent = "";
    (user.roles || []).forEach(function (role) {
      var chip = document.createElement("span");
      chip.className = "role";
      chip.textContent = role;
      roles.appendChild(chip);
    });
    if (!roles.firstChild) roles.textContent = "none";
    setTime($("session-created"), (mine && mine.created_at) || session.created_at);
    var ends = $("session-expires");
    ends.textContent = "";
    appendEnds(ends, mine || session);
    $("summary").textContent = "Signed in as " + (user.id || "unknown") + ".";
    $("summary").hidden = false;
    $("identity").hidden = false;
  }

  // The raw device description (a User-Agent string) and a short "Browser on System" name for it.
  function rawDevice(session) {
    var device = session.device;
    if (device && typeof device === "object") device = device.name || device.label || device.user_agent;
    return typeof device === "string" ? device.trim() : "";
  }

  var BROWSERS = [
    [/\bEdg(?:e|A|iOS)?\//, "Edge"],
    [/\bOPR\/|\bOpera\b/, "Opera"],
    [/\bSamsungBrowser\//, "Samsung Internet"],
    [/\bFirefox\/|\bFxiOS\//, "Firefox"],
    [/\bHeadlessChrome\//, "Headless Chrome"],
    [/\bChrom(?:e|ium)\/|\bCriOS\//, "Chrome"],
    [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
    [/^curl\//, "curl"]
  ];
  var SYSTEMS = [
    [/\bWindows\b/, "Windows"],
    [/\biPhone\b|\biPad\b|\biPod\b/, "iOS"],
    [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
    [/\bAndroid\b/, "Android"],
    [/\bCrOS\b/, "ChromeOS"],
    [/\bLinux\b/, "Linux"]
  ];

  function match(table, text) {
    for (var i = 0; i < table.length; i++) if (table[i][0].test(text)) return table[i][1];
    return null;
  }

  function deviceName(session) {
    var raw = rawDevice(session);
    if (!raw) return "Unknown device";
    // Already a short description ("Firefox on Linux"): the worker summarises User-Agents itself.
    if (raw.indexOf("/") < 0 && raw.length <= 60) return raw;
    var browser = match(BROWSERS, raw);
    var system = match(SYSTEMS, raw);
    if (browser && system) return browser + " on " + system;
    if (browser || system) return browser || "Browser on " + system;
    return raw.length > 60 ? raw.slice(0, 57) + "\u2026" : raw;
  }

  function isCurrent(session) {
    if (typeof session.current === "boolean") return session.current;
    return currentSessionId !== null && session.id === currentSessionId;
  }

  function lastSeen(session) {
    var d = toDate(session.last_seen_at) || toDate(session.created_at);
    return d ? d.getTime() : 0;
  }

  function renderSessions(sessions) {
    list.textContent = "";
    sessions = sessions.slice().sort(function (a, b) {
      var ca = isCurrent(a), cb = isCurrent(b);
      if (ca !== cb) return ca ? -1 : 1;
      return lastSeen(b) - lastSeen(a);
    });

    sessions.forEach(function (session) {
      var current = isCurrent(session);
      var name = deviceName(session);

      var item = document.createElement("li");
      item.className = "session";
      item.dataset.sessionId = session.id;
      if (current) item.dataset.current = "true";

      var text = document.createElement("div");
      var title = document.createElement("p");
      title.className = "session-device";
      title.textContent = name;
      if (rawDevice(session) && rawDevice(session) !== name) title.title = rawDevice(session);
      if (current) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "This device";
        title.appendChild(badge);
      }
      if (session.device_bound === true) {
        // Its browser holds a key that never leaves the device: a copy of its cookies elsewhere
        // stops working within minutes.
        var bound = document.createElement("span");
        bound.className = "badge session-bound";
        bound.textContent = "Bound to this browser's key";
        title.appendChild(bound);
      }
      var from = [session.place, session.address].filter(function (part) {
        return typeof part === "string" && part;
      });
      var origin = document.createElement("p");
      origin.className = "session-meta session-origin";
      origin.textContent = from.length ? "From " + from.join(" \u00b7 ") : "From an unknown place";
      var meta = document.createElement("p");
      meta.className = "session-meta";
      meta.appendChild(document.createTextNode("Signed in "));
      meta.appendChild(timeElement(session.created_at, "absolute"));
      meta.appendChild(document.createTextNode(" \u00b7 Last active "));
      meta.appendChild(timeElement(session.last_seen_at || session.created_at));
      var ends = document.createElement("p");
      ends.className = "session-meta session-ends";
      ends.appendChild(document.createTextNode("Ends "));
      appendEnds(ends, session);
      text.appendChild(title);
      text.appendChild(origin);
      text.appendChild(meta);
      text.appendChild(ends);
      item.appendChild(text);

      if (current) {
        // Ending this device's session is logging out: a plain form post, the worker clears the cookies.
        var form = document.createElement("form");
        form.className = "inline";
        form.method = "post";
        form.action = "/auth/logout";
        var out = document.createElement("button");
        out.type = "submit";
        out.className = "secondary";
        out.textContent = "Log out";
        out.setAttribute("aria-label", "Log out on this device (" + name + ")");
        form.appendChild(out);
        item.appendChild(form);
      } else {
        var end = document.createElement("button");
        end.type = "button";
        end.className = "danger";
        end.textContent = "End session";
        end.setAttribute("aria-label", "End session on " + name + (from.length ? ", " + from.join(", ") : ""));
        end.addEventListener("click", function () {
          endSession(session, name, item, end);
        });
        item.appendChild(end);
      }
      list.appendChild(item);
    });

    list.setAttribute("aria-busy", "false");
    updateEmpty();
  }

  // The empty state: nothing but this device (or nothing at all) is signed in.
  function updateEmpty() {
    var others = list.querySelectorAll("li.session:not([data-current])").length;
    var any = list.querySelectorAll("li.session").length;
    var empty = $("sessions-empty");
    empty.textContent = any ? "No other devices are signed in." : "No active sessions were found.";
    empty.hidden = others > 0;
  }

  // --- actions ---------------------------------------------------------------------------------

  function endSession(session, name, item, button) {
    button.disabled = true;
    button.textContent = "Ending\u2026";
    api("DELETE", "/auth/sessions/" + encodeURIComponent(session.id)).then(function () {
      var next = item.nextElementSibling || item.previousElementSibling;
      item.remove();
      updateEmpty();
      showStatus("The session on " + name + " has ended.");
      var focusTarget = next && next.querySelector("button");
      (focusTarget || $("sessions-heading")).focus();
    }, function (err) {
      button.disabled = false;
      button.textContent = "End session";
      showError("Could not end that session: " + err.message + ".");
    });
  }

  // --- passkeys --------------------------------------------------------------------------------

  var passkeyList;
  var manageUntil = null; // until when this session may add or remove passkeys (Unix seconds)
  var canCreate = !!(window.PublicKeyCredential && navigator.credentials &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function");

  function recent() {
    return typeof manageUntil === "number" && Date.now() / 1000 < manageUntil;
  }

  function updatePasskeyControls() {
    $("passkey-add").hidden = !(canCreate && recent());
    $("passkey-reauth").hidden = recent();
    $("passkey-unsupported").hidden = canCreate;
  }

  function renderPasskeys(passkeys) {
    passkeyList.textContent = "";
    passkeys.forEach(function (passkey) {
      var item = document.createElement("li");
      item.className = "session passkey";
      item.dataset.passkeyId = passkey.id;
      var text = document.createElement("div");
      var title = document.createElement("p");
      title.className = "session-device";
      title.textContent = passkey.name;
      var kind = document.createElement("span");
      kind.className = "badge";
      kind.textContent = passkey.synced ? "Synced" : (passkey.backup_eligible ? "Not synced yet" : "This device only");
      title.appendChild(kind);
      var meta = document.createElement("p");
      meta.className = "session-meta";
      meta.appendChild(document.createTextNode("Added "));
      meta.appendChild(timeElement(passkey.created_at, "absolute"));
      meta.appendChild(document.createTextNode(" \u00b7 "));
      if (passkey.last_used_at) {
        meta.appendChild(document.createTextNode("Last used "));
        meta.appendChild(timeElement(passkey.last_used_at));
      } else {
        meta.appendChild(document.createTextNode("Not used yet"));
      }
      text.appendChild(title);
      text.appendChild(meta);
      item.appendChild(text);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove the passkey " + passkey.name);
      remove.addEventListener("click", function () {
        removePasskey(passkey, item, remove);
      });
      item.appendChild(remove);
      passkeyList.appendChild(item);
    });
    passkeyList.setAttribute("aria-busy", "false");
    $("passkeys-empty").hidden = passkeys.length > 0;
  }

  function passkeyError(what, err) {
    if (err && err.code === "reauthenticate") {
      manageUntil = null;
      updatePasskeyControls();
      return what + ": this needs a recent sign-in. Log out and sign in again, then try once more.";
    }
    if (err && err.name === "InvalidStateError") return what + ": this device already holds a passkey of your account.";
    if (err && err.name === "NotAllowedError") return what + ": it was cancelled or timed out.";
    return what + ": " + ((err && err.message) || "it did not work") + ".";
  }

  function loadPasskeys() {
    return api("GET", "/auth/passkeys").then(function (data) {
      if (data.available === false) return; // a provider's user has no passkeys here
      manageUntil = typeof data.manage_until === "number" ? data.manage_until : null;
      renderPasskeys(Array.isArray(data.passkeys) ? data.passkeys : []);
      updatePasskeyControls();
      $("passkeys-card").hidden = false;
    }, function (err) {
      if (err.code !== "not_found") showError(passkeyError("Your passkeys could not be loaded", err));
    });
  }

  function addPasskey(event) {
    event.preventDefault();
    var input = $("passkey-name");
    var button = $("passkey-add-button");
    var name = input.value.trim();
    if (!name) {
      showError("Give the new passkey a name first.");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.setAttribute("aria-invalid", "false");
    if (button.disabled) return;
    button.disabled = true;
    button.textContent = "Waiting for your passkey\u2026";
    api("POST", "/auth/passkeys/register/options", {})
      .then(function (options) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
        return navigator.credentials.create({ publicKey: publicKey });
      })
      .then(function (credential) {
        return api("POST", "/auth/passkeys/register", { name: name, credential: credential.toJSON() });
      })
      .then(function () {
        input.value = "";
        showStatus("The passkey \u201c" + name + "\u201d was added. You can sign in with it from now on.");
        return loadPasskeys();
      }, function (err) {
        showError(passkeyError("The passkey was not added", err));
      })
      .then(function () {
        button.disabled = false;
        button.textContent = "Add a passkey";
      });
  }

  function removePasskey(passkey, item, button) {
    button.disabled = true;
    button.textContent = "Removing\u2026";
    api("DELETE", "/auth/passkeys/" + encodeURIComponent(passkey.id)).then(function () {
      item.remove();
      $("passkeys-empty").hidden = passkeyList.querySelectorAll("li").length > 0;
      showStatus("The passkey \u201c" + passkey.name + "\u201d was removed.");
      $("passkeys-heading").focus();
    }, function (err) {
      button.disabled = false;
      button.textContent = "Remove";
      var message = err.code === "last_passkey"
        ? "The passkey \u201c" + passkey.name + "\u201d is the only way your account signs in: add another one before removing it."
        : passkeyError("The passkey was not removed", err);
      showError(message);
    });
  }

  // The page's states: loading, loaded, or failed with a way to try again.
  function setState(state, message) {
    $("loading").hidden = state !== "loading";
    $("load-error").hidden = state !== "error";
    var loaded = state === "loaded";
    $("summary").hidden = !loaded;
    $("identity").hidden = !loaded;
    $("sessions-card").hidden = !loaded;
    if (state === "error") $("load-error-text").textContent = message;
    if (state !== "loaded") list.setAttribute("aria-busy", "true");
  }

  var loading = null;

  function load() {
    if (loading) return loading;
    // A reload of a page already shown keeps it on screen until the new answer is in.
    if ($("identity").hidden) setState("loading");
    var identity;
    loading = api("GET", "/auth/session")
      .then(function (data) {
        identity = data;
        return api("GET", "/auth/sessions");
      })
      .then(function (data) {
        var sessions = Array.isArray(data.sessions) ? data.sessions : [];
        currentSessionId = (identity.session && identity.session.id) || null;
        renderSessions(sessions);
        // The list has this session's own times and timeouts: the summary shows those.
        renderIdentity(identity, sessions.filter(isCurrent)[0]);
        setState("loaded");
        // The page has the section only where passkeys can be used.
        if (passkeyList) return loadPasskeys();
      })
      .catch(function (err) {
        setState("error", "Your account could not be loaded: " + err.message + ".");
        $("retry").focus();
      })
      .then(function () {
        loading = null;
      });
    return loading;
  }

  function start() {
    errorBox = $("error");
    statusBox = $("status");
    list = $("sessions");
    passkeyList = $("passkeys");
    if (passkeyList) $("passkey-add").addEventListener("submit", addPasskey);
    $("retry").addEventListener("click", load);
    // Sessions may have been ended elsewhere meanwhile: reload when the tab is shown again.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") load();
    });
    load();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
