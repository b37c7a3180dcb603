/*
 * LTI Platform Storage (1EdTech "LTI Client Side postMessages" + "Platform Storage"): keeps the launch
 * state in the platform window when the browser blocks third-party cookies.
 *
 * The page holds a form#lti-storage with data-mode "put" (login: store data-value under data-key, then go to
 * data-next) or "get" (launch: read data-key into the form's mb_storage_state field, then submit).
 * Messages go to the frame named by lti_storage_target (data-target) with the platform's OIDC auth origin
 * (data-origin) as targetOrigin; only responses from that origin with our message_id count. Whatever fails
 * (no capability, an error, 2 s of silence) falls back to the cookie path.
 */
(function () {
  "use strict";
  var TIMEOUT_MS = 2000;
  var form = document.getElementById("lti-storage");
  if (!form) { return; }
  var data = form.dataset;
  var origin = data.origin;
  var counter = 0;

  function hostWindow() {
    return window.opener || window.parent;
  }

  function targetFrame(name) {
    var host = hostWindow();
    if (!name || name === "_parent") { return host; }
    try { return host.frames[name] || null; } catch (error) { return null; }
  }

  function send(frame, targetOrigin, message, done) {
    var id = "mb-" + Date.now().toString(36) + "-" + (counter += 1);
    var finished = false;
    var timer = null;
    function finish(response) {
      if (finished) { return; }
      finished = true;
      window.removeEventListener("message", onMessage);
      window.clearTimeout(timer);
      done(response);
    }
    function onMessage(event) {
      var reply = event.data;
      if (event.origin !== origin || !reply || typeof reply !== "object") { return; }
      if (reply.message_id !== id || reply.subject !== message.subject + ".response") { return; }
      finish(reply.error ? null : reply);
    }
    if (!frame) { done(null); return; }
    window.addEventListener("message", onMessage);
    timer = window.setTimeout(function () { finish(null); }, TIMEOUT_MS);
    message.message_id = id;
    try { frame.postMessage(message, targetOrigin); } catch (error) { finish(null); }
  }

  // lti.capabilities carries nothing secret, so it may go to any origin; the reply must come from the platform.
  function storageFrameFor(subject, done) {
    var frame = targetFrame(data.target);
    send(frame, "*", { subject: "lti.capabilities" }, function (reply) {
      var supported = reply && Array.isArray(reply.supported_messages) ? reply.supported_messages : [];
      var entry = supported.filter(function (item) { return item && item.subject === subject; })[0];
      if (!entry) { done(null); return; }
      done(entry.frame ? targetFrame(entry.frame) : frame);
    });
  }

  function put() {
    storageFrameFor("lti.put_data", function (frame) {
      var next = function () { window.location.replace(data.next); };
      if (!frame) { next(); return; }
      send(frame, origin, { subject: "lti.put_data", key: data.key, value: data.value }, next);
    });
  }

  function get() {
    storageFrameFor("lti.get_data", function (frame) {
      var submit = function (reply) {
        if (reply && typeof reply.value === "string" && reply.key === data.key) {
          form.elements.namedItem("mb_storage_state").value = reply.value;
        }
        form.submit();
      };
      if (!frame) { submit(null); return; }
      send(frame, origin, { subject: "lti.get_data", key: data.key }, submit);
    });
  }

  if (data.mode === "put") { put(); } else if (data.mode === "get") { get(); }
})();
