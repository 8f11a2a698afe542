// Stash2Plex in Stash's web UI: a Plex panel on every scene page and a page at
// /plugin/stash2plex. Plain JavaScript on Stash's UI Plugin API (docs.stashapp.cc,
// "UI Plugin API"; stashapp/stash ui/v2.5/src/pluginApi.tsx): React from
// PluginApi.React, no bundler. It talks only to Stash's own /graphql, through
// runPluginOperation (the plugin's answers, README "Operations"); it never sees the
// Plex token, which stays in the plugin's settings on the server.
(function () {
  "use strict";
  var api = window.PluginApi;
  if (!api || !api.React) {
    return;
  }
  var React = api.React;
  var h = React.createElement;
  var PLUGIN_ID = "Stash2Plex";
  var PAGE = "/plugin/stash2plex";
  var SETTLE_POLL_MS = 1000;
  var SETTLE_POLLS = 90;
  var STATE_LABEL = {synced: "Synced", queued: "Queued", retrying: "Retrying",
                     dead_letter: "Dead letter", not_synced: "Not synced"};

  function graphql(query, variables) {
    // Relative to <base href>, so Stash behind a reverse-proxy prefix works too.
    var url = new URL("graphql", document.baseURI).toString();
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json"},
                       body: JSON.stringify({query: query, variables: variables})})
      .then(function (resp) { return resp.json(); })
      .then(function (doc) {
        if (doc.errors && doc.errors.length) {
          throw new Error(doc.errors[0].message);
        }
        return doc.data;
      });
  }

  function operation(args) {
    var query = "mutation Stash2PlexOperation($args: Map) { runPluginOperation(plugin_id: \"" +
                PLUGIN_ID + "\", args: $args) }";
    return graphql(query, {args: args}).then(function (data) { return data.runPluginOperation; });
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "—";
  }

  function shown(value) {
    if (value === null || value === undefined || value === "") {
      return "(empty)";
    }
    return Array.isArray(value) ? value.join(", ") || "(empty)" : String(value);
  }

  function Badge(props) {
    return h("span", {className: "stash2plex-badge stash2plex-state-" + props.state},
             STATE_LABEL[props.state] || props.state);
  }

  function PreviewTable(props) {
    var preview = props.preview;
    if (preview.problem) {
      return h("p", {className: "stash2plex-problem"}, preview.problem);
    }
    if (!preview.changes.length) {
      return h("p", {className: "stash2plex-note stash2plex-preview-empty"}, "Plex already holds this scene.");
    }
    return h("table", {className: "stash2plex-table stash2plex-preview-table"},
      h("thead", null, h("tr", null, h("th", null, "Field"), h("th", null, "In Plex"), h("th", null, "From Stash"))),
      h("tbody", null, preview.changes.map(function (c) {
        return h("tr", {key: c.field, "data-field": c.field},
                 h("td", null, c.field), h("td", null, shown(c.plex)), h("td", null, shown(c.stash)));
      })));
  }

  function useSceneStatus(sceneId) {
    var s = React.useState(null), status = s[0], setStatus = s[1];
    var e = React.useState(null), error = e[0], setError = e[1];
    var polls = React.useRef(0);
    var timer = React.useRef(null);
    var load = React.useCallback(function (settle) {
      clearTimeout(timer.current);
      return operation({mode: "scene_status", scene_id: String(sceneId)}).then(function (answer) {
        setStatus(answer);
        setError(null);
        var moving = answer.state === "queued" || answer.state === "retrying";
        if (settle && moving && polls.current++ < SETTLE_POLLS) {
          timer.current = setTimeout(function () { load(true); }, SETTLE_POLL_MS);
        }
      }, function (err) { setError(err.message); });
    }, [sceneId]);
    React.useEffect(function () {
      load(false);
      return function () { clearTimeout(timer.current); };
    }, [load]);
    return {status: status, error: error, load: load, polls: polls};
  }

  function ScenePanel(props) {
    var sceneId = props.sceneId;
    var scene = useSceneStatus(sceneId);
    var p = React.useState(null), preview = p[0], setPreview = p[1];
    var b = React.useState(false), busy = b[0], setBusy = b[1];
    var status = scene.status;

    function syncNow() {
      setBusy(true);
      operation({mode: "sync_scene", scene_id: String(sceneId)})
        .then(function () { scene.polls.current = 0; return scene.load(true); })
        .catch(function (err) { setPreview({problem: err.message, changes: []}); })
        .then(function () { setBusy(false); });
    }
    function showPreview() {
      setBusy(true);
      operation({mode: "preview_scene", scene_id: String(sceneId)})
        .then(setPreview, function (err) { setPreview({problem: err.message, changes: []}); })
        .then(function () { setBusy(false); });
    }

    var rows = [];
    if (status) {
      var plex = status.plex;
      rows.push(["Plex item", plex ? shown(plex.title) + (plex.section ? " (" + plex.section + ")" : "") : "—"]);
      rows.push(["Synced at", when(status.synced_at)]);
      if (status.next_attempt_at) rows.push(["Next attempt", when(status.next_attempt_at)]);
      if (status.reason) rows.push(["Reason", status.reason]);
    }
    return h("div", {className: "stash2plex stash2plex-panel", "data-state": status ? status.state : "loading"},
      h("div", {className: "stash2plex-head"},
        h("span", {className: "stash2plex-title"}, "Plex"),
        status ? h(Badge, {state: status.state}) : h("span", {className: "stash2plex-note"}, "…"),
        h("a", {className: "stash2plex-link", href: PAGE.slice(1)}, "Stash2Plex page")),
      scene.error ? h("p", {className: "stash2plex-problem"}, scene.error) : null,
      h("dl", {className: "stash2plex-facts"}, rows.map(function (r) {
        return h(React.Fragment, {key: r[0]}, h("dt", null, r[0]), h("dd", null, r[1]));
      })),
      h("div", {className: "stash2plex-buttons"},
        h("button", {type: "button", className: "btn btn-primary stash2plex-sync", disabled: busy, onClick: syncNow}, "Sync now"),
        h("button", {type: "button", className: "btn btn-secondary stash2plex-preview", disabled: busy, onClick: showPreview}, "Preview")),
      preview ? h(PreviewTable, {preview: preview}) : null);
  }

  function groupByReason(letters) {
    var groups = [];
    var byKey = {};
    letters.forEach(function (letter) {
      var key = (letter.kind || "unknown") + "\u0000" + (letter.reason || "");
      if (!byKey[key]) {
        byKey[key] = {kind: letter.kind || "unknown", reason: letter.reason || "", letters: []};
        groups.push(byKey[key]);
      }
      byKey[key].letters.push(letter);
    });
    return groups;
  }

  function Figures(props) {
    var s = props.status;
    var items = [["Queued", s.queued], ["Retrying", s.retrying], ["Dead letters", s.dead_letters],
                 ["Circuit breaker", s.breaker], ["Drainer", s.drainer]];
    return h("dl", {className: "stash2plex-figures"}, items.map(function (item) {
      return h("div", {key: item[0], className: "stash2plex-figure"}, h("dt", null, item[0]),
               h("dd", {"data-figure": item[0]}, String(item[1])));
    }));
  }

  function DeadLetters(props) {
    if (!props.letters.length) {
      return h("p", {className: "stash2plex-note stash2plex-no-dead-letters"}, "No dead letters.");
    }
    return h("div", {className: "stash2plex-dead-letters"},
      h("button", {type: "button", className: "btn btn-secondary stash2plex-retry-all", onClick: function () { props.retry(null); }}, "Retry all"),
      groupByReason(props.letters).map(function (group, n) {
        return h("section", {key: n, className: "stash2plex-group"},
          h("h4", null, group.kind + ": " + group.reason + " (" + group.letters.length + ")"),
          h("table", {className: "stash2plex-table"}, h("tbody", null, group.letters.map(function (letter) {
            return h("tr", {key: letter.id || letter.scene_id, "data-scene-id": letter.scene_id},
              h("td", null, h("a", {href: "scenes/" + letter.scene_id}, "Scene " + letter.scene_id)),
              h("td", null, when(letter.failed_at)), h("td", null, (letter.attempts || 0) + ((letter.attempts || 0) === 1 ? " attempt" : " attempts")),
              h("td", null, h("button", {type: "button", className: "btn btn-sm btn-primary stash2plex-retry",
                                         onClick: function () { props.retry([letter.scene_id]); }}, "Retry")));
          }))));
      }));
  }

  function PreviewReport(props) {
    var report = props.report;
    var fields = Object.keys(report.histogram);
    return h("div", {className: "stash2plex-report"},
      h("p", null, report.changed + " of " + report.checked + " scenes would change."),
      fields.length ? h("table", {className: "stash2plex-table stash2plex-histogram"}, h("tbody", null, fields.map(function (f) {
        return h("tr", {key: f, "data-field": f}, h("td", null, f), h("td", null, String(report.histogram[f])));
      }))) : null,
      report.sample.map(function (scene) {
        return h("div", {key: scene.scene_id, className: "stash2plex-sample"},
          h("a", {href: "scenes/" + scene.scene_id}, "Scene " + scene.scene_id),
          h(PreviewTable, {preview: scene}));
      }));
  }

  function Page() {
    var s = React.useState(null), status = s[0], setStatus = s[1];
    var l = React.useState([]), letters = l[0], setLetters = l[1];
    var r = React.useState(null), report = r[0], setReport = r[1];
    var e = React.useState(null), error = e[0], setError = e[1];
    var b = React.useState(false), busy = b[0], setBusy = b[1];
    function load() {
      return Promise.all([operation({mode: "status"}), operation({mode: "dead_letters", limit: 500})])
        .then(function (answers) { setStatus(answers[0]); setLetters(answers[1].dead_letters); setError(null); },
              function (err) { setError(err.message); });
    }
    React.useEffect(function () { load(); }, []);
    function retry(sceneIds) {
      var args = {mode: "retry_dead_letters"};
      if (sceneIds) args.scene_ids = sceneIds;
      operation(args).then(load, function (err) { setError(err.message); });
    }
    function previewAll() {
      setBusy(true);
      operation({mode: "preview_changes"}).then(setReport, function (err) { setError(err.message); })
        .then(function () { setBusy(false); });
    }
    return h("div", {className: "stash2plex stash2plex-page"},
      h("h2", null, "Stash2Plex"),
      error ? h("p", {className: "stash2plex-problem"}, error) : null,
      status ? h(Figures, {status: status}) : h("p", {className: "stash2plex-note"}, "Loading…"),
      h("div", {className: "stash2plex-buttons"},
        h("button", {type: "button", className: "btn btn-secondary stash2plex-refresh", onClick: load}, "Refresh"),
        h("button", {type: "button", className: "btn btn-primary stash2plex-preview-all", disabled: busy, onClick: previewAll},
          busy ? "Previewing…" : "Preview Changes")),
      report ? h(PreviewReport, {report: report}) : null,
      h("h3", null, "Dead letters"),
      h(DeadLetters, {letters: letters, retry: retry}));
  }

  api.register.route(PAGE, Page);

  // The scene page: the panel below the scene's tab content (ScenePage.TabContent is
  // patchable and receives the scene as props.scene).
  api.patch.before("ScenePage.TabContent", function (props) {
    var sceneId = props && props.scene && props.scene.id;
    if (!sceneId) {
      return [props];
    }
    var rest = Array.prototype.slice.call(arguments, 1);
    var children = h(React.Fragment, null, props.children, h(ScenePanel, {key: "stash2plex", sceneId: sceneId}));
    return [Object.assign({}, props, {children: children})].concat(rest);
  });

  // A link to the page among the navbar's utility items.
  api.patch.before("MainNavBar.UtilityItems", function (props) {
    var rest = Array.prototype.slice.call(arguments, 1);
    var link = h("a", {key: "stash2plex", className: "nav-utility stash2plex-nav", href: PAGE.slice(1), title: "Stash2Plex"}, "Plex");
    return [Object.assign({}, props, {children: h(React.Fragment, null, props.children, link)})].concat(rest);
  });
})();
