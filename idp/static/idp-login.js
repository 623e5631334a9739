// Nabari IdP login page: asks the local card agent (127.0.0.1) to sign the access application
// text, then posts the signature and the certificate back to the IdP. No PIN ever passes here:
// the agent asks for it on its own page (pin_url). Plain fetch, no library, no external asset.
(function () {
  "use strict";
  var main = document.getElementById("login");
  if (!main) { return; }
  var d = main.dataset;
  var agent = d.agent;
  var challenge = d.challenge;
  var kind = d.kind;
  var status = document.getElementById("status");
  var select = document.getElementById("card");
  var form = document.getElementById("login-form");
  var button = document.getElementById("sign-button");
  var pinlessForm = document.getElementById("pinless-form");
  var pinlessButton = document.getElementById("pinless-button");
  var POLL_MS = 1000;
  var MAX_POLLS = 180;

  function say(text, cls) {
    status.textContent = text;
    status.className = "msg " + (cls || "info");
  }

  function busy(on) {
    if (button) { button.disabled = on; }
    if (pinlessButton) { pinlessButton.disabled = on; }
  }

  function api(path, options) {
    var opts = { mode: "cors", credentials: "omit", cache: "no-store", redirect: "error" };
    if (options) {
      for (var k in options) { if (Object.prototype.hasOwnProperty.call(options, k)) { opts[k] = options[k]; } }
    }
    return fetch(agent + path, opts).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, body: j }; },
        function () { return { status: r.status, body: {} }; });
    });
  }

  function errorText(body) {
    var code = body && (body.error && body.error.error ? body.error.error : body.error);
    if (code === "pin_locked") { return d.msgLocked; }
    if (code === "request_expired") { return d.msgExpired; }
    return d.msgFailed;
  }

  // Cards on the reader(s).
  busy(true);
  api("/v1/cards").then(function (r) {
    var cards = (r.body && r.body.cards) || [];
    while (select.firstChild) { select.removeChild(select.firstChild); }
    var usable = cards.filter(function (c) {
      return (c.kinds || []).indexOf(kind) >= 0 || (pinlessForm && (c.kinds || []).indexOf("auth") >= 0);
    });
    if (r.status !== 200 || usable.length === 0) {
      say(d.msgNocard, "error");
      return;
    }
    usable.forEach(function (c) {
      var o = document.createElement("option");
      o.value = c.card;
      o.textContent = c.card + (c.reader ? " (" + c.reader + ")" : "");
      select.appendChild(o);
    });
    status.textContent = "";
    status.className = "";
    busy(false);
  }, function () {
    say(d.msgAgent, "error");
  });

  function poll(requestId, n) {
    api("/v1/sign/" + encodeURIComponent(requestId)).then(function (r) {
      var b = r.body || {};
      if (r.status === 200 && b.status === "done") {
        say(d.msgSigned, "ok");
        form.elements.signature.value = b.signature;
        form.elements.certificate.value = b.certificate;
        form.submit();
      } else if (r.status === 200 && b.status === "pending" && n < MAX_POLLS) {
        if (b.error) { say(d.msgPin + " (" + errorText(b) + ")", "info"); }
        setTimeout(function () { poll(requestId, n + 1); }, POLL_MS);
      } else {
        say(r.status === 410 ? d.msgExpired : errorText(b), "error");
        busy(false);
      }
    }, function () {
      say(d.msgAgent, "error");
      busy(false);
    });
  }

  if (button) {
    button.addEventListener("click", function () {
      if (!select.value) { say(d.msgNocard, "error"); return; }
      busy(true);
      say(d.msgWait, "info");
      // Opened now, inside the click (popup blockers), pointed at the agent's PIN page below.
      var pinWindow = window.open("", "nabari-card-agent-pin", "width=680,height=780");
      api("/v1/sign", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ card: select.value, kind: kind, challenge: challenge })
      }).then(function (r) {
        var b = r.body || {};
        if (r.status !== 201 || !b.request_id) {
          if (pinWindow) { pinWindow.close(); }
          say(errorText(b), "error");
          busy(false);
          return;
        }
        if (b.status === "pending" && b.pin_url) {
          // The resident types the PIN into the agent's own page.
          if (pinWindow) {
            pinWindow.location = b.pin_url;
            say(d.msgPin, "info");
          } else {
            // Popup blocked: a link the resident can open.
            status.textContent = "";
            var a = document.createElement("a");
            a.href = b.pin_url;
            a.target = "_blank";
            a.rel = "noopener";
            a.textContent = d.msgPin;
            status.appendChild(a);
            status.className = "msg info";
          }
        } else if (pinWindow) {
          pinWindow.close();
        }
        poll(b.request_id, 0);
      }, function () {
        if (pinWindow) { pinWindow.close(); }
        say(d.msgAgent, "error");
        busy(false);
      });
    });
  }

  if (pinlessButton && pinlessForm) {
    pinlessButton.addEventListener("click", function () {
      if (!pinlessForm.reportValidity()) { return; }
      if (!select.value) { say(d.msgNocard, "error"); return; }
      busy(true);
      say(d.msgRead, "info");
      api("/v1/certificate?card=" + encodeURIComponent(select.value) + "&kind=auth").then(function (r) {
        var b = r.body || {};
        if (r.status !== 200 || !b.certificate) {
          say(errorText(b), "error");
          busy(false);
          return;
        }
        pinlessForm.elements.certificate.value = b.certificate;
        pinlessForm.submit();
      }, function () {
        say(d.msgAgent, "error");
        busy(false);
      });
    });
  }
}());
