"""Server-rendered HTML of the demo platform: home, launch frame with platform storage, forms, errors."""

from __future__ import annotations

_STYLE = """
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #1d2433; background: #f5f6f8; }
  header { background: #26364d; color: #fff; padding: 0.75rem 1.5rem; }
  main { padding: 1rem 1.5rem; }
  table { border-collapse: collapse; background: #fff; }
  th, td { padding: 0.4rem 0.8rem; border-bottom: 1px solid #dde1e7; text-align: left; }
  button { background: #2f6fd1; color: #fff; border: 0; border-radius: 4px; padding: 0.35rem 0.8rem; cursor: pointer; }
  button:focus-visible { outline: 3px solid #f2b134; }
  iframe { width: 100%; height: 80vh; border: 1px solid #c4cad3; background: #fff; }
</style>
"""

HOME_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo LMS – {{ context.title }}</title>"""
    + _STYLE
    + """</head>
<body>
<header><h1>Demo LMS</h1><p>{{ context.title }} ({{ context.label }})</p></header>
<main>
{% for heading, people in groups %}
<section aria-labelledby="h-{{ loop.index }}">
<h2 id="h-{{ loop.index }}">{{ heading }}</h2>
<table>
<thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Actions</th></tr></thead>
<tbody>
{% for user in people %}
<tr>
  <td>{{ user.name }}</td>
  <td>{{ "Teacher" if user.is_instructor else "Administrator" if user.is_administrator else "Student" }}</td>
  <td>
    <form method="get" action="{{ url_for('demo_platform.launch_page', user_id=user.user_id) }}">
      <button type="submit" aria-label="Launch the tool as {{ user.name }}">Launch</button>
    </form>
    {% if user.is_instructor %}
    <form method="get" action="{{ url_for('demo_platform.launch_page', user_id=user.user_id) }}">
      <input type="hidden" name="message_type" value="LtiDeepLinkingRequest">
      <button type="submit" aria-label="Deep link: add content from the tool as {{ user.name }}">Deep link</button>
    </form>
    {% endif %}
  </td>
</tr>
{% endfor %}
</tbody>
</table>
</section>
{% endfor %}
</main>
</body></html>
"""
)

# LTI Client Side postMessages (platform storage): answers lti.capabilities, lti.put_data and
# lti.get_data from the framed tool, keeping values per origin in memory.
LAUNCH_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo LMS – {{ user.name }}</title>"""
    + _STYLE
    + """</head>
<body>
<header><h1>Demo LMS</h1><p>{{ context.title }} — signed in as {{ user.name }}
  (<a href="{{ url_for('demo_platform.home') }}" style="color:#fff">switch user</a>)</p></header>
<main>
<iframe id="tool-frame" name="lti_tool_frame" title="mastery-bridge tool" src="{{ initiate_url }}"
  allow="clipboard-write"></iframe>
</main>
<script>
(function () {
  "use strict";
  var frame = document.getElementById("tool-frame");
  var toolOrigin = {{ tool_origin|tojson }};
  var subjects = ["lti.capabilities", "lti.put_data", "lti.get_data"];
  var store = new Map();
  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) { return; }
    var message = event.data;
    if (!message || typeof message !== "object" || typeof message.subject !== "string") { return; }
    var reply = { subject: message.subject + ".response", message_id: message.message_id };
    if (subjects.indexOf(message.subject) < 0) {
      reply.error = { code: "unsupported_subject", message: "Unsupported subject: " + message.subject };
    } else if (message.subject === "lti.capabilities") {
      reply.supported_messages = subjects.map(function (s) { return { subject: s }; });
    } else if (event.origin !== toolOrigin) {
      reply.error = { code: "bad_request", message: "Origin not allowed to use platform storage" };
    } else if (typeof message.key !== "string" || message.key === "") {
      reply.error = { code: "bad_request", message: "Missing key" };
    } else if (message.subject === "lti.put_data") {
      store.set(event.origin + " " + message.key, message.value);
      reply.key = message.key;
      reply.value = message.value;
    } else {
      var slot = event.origin + " " + message.key;
      reply.key = message.key;
      if (store.has(slot)) { reply.value = store.get(slot); }
      else { reply.error = { code: "bad_request", message: "No value for key" }; }
    }
    event.source.postMessage(reply, event.origin);
  });
})();
</script>
</body></html>
"""
)

AUTO_POST_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<form id="auto" method="post" action="{{ action }}">
{% for name, value in fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("auto").submit();</script>
</body></html>
"""

DEEP_LINK_DONE_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo LMS – content added</title>"""
    + _STYLE
    + """</head>
<body><header><h1>Demo LMS</h1></header>
<main role="status">
<h2>{{ items|length }} item(s) added to {{ context.title }}</h2>
<ul>{% for item in items %}<li>{{ item.get("title") or item.get("url") or item.get("type") }}</li>{% endfor %}</ul>
<p><a href="{{ url_for('demo_platform.home') }}">Back to the course</a></p>
</main></body></html>
"""
)

ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo LMS – error</title></head>
<body><main role="alert"><h1>The demo LMS refused this request</h1><p>{{ message }}</p></main></body></html>
"""
