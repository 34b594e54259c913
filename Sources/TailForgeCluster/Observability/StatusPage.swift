import Crypto
import Foundation

/// The coordinator's status page: one HTML document with its style and script inline (nothing is fetched from
/// elsewhere; clusters often reach no CDN). The first render comes from the snapshot embedded in the page, so
/// the page shows the cluster before its script's first poll; then it polls `/api/status` every second.
public enum StatusPage {
    /// The page for `snapshot` (its JSON in a data block: `JSONEncoder` writes `/` as `\/`, so no `</script>`
    /// can end the block early).
    public static func html(_ snapshot: ClusterSnapshot) -> String {
        let json = (try? JSONEncoder().encode(snapshot)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return head + "<script type=\"application/json\" id=\"initial\">" + json + "</script>\n<script>" + script + "</script>\n</body>\n</html>\n"
    }

    /// Only this page's own script (by hash), its inline style and requests to this server.
    public static let contentSecurityPolicy: String = {
        let digest = Data(SHA256.hash(data: Data(script.utf8))).base64EncodedString()
        return "default-src 'none'; script-src 'sha256-\(digest)'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }()

    static let head = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>TailForge cluster</title>
    <style>
    :root { --ink: #1d2430; --muted: #667085; --line: #e4e7ec; --bg: #f5f6f8; --accent: #2f6fde; --ok: #1f9d55; --warn: #c77c02; --bad: #d03b3b; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
    header { background: #16202f; color: #fff; padding: 14px 28px; display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; }
    header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .2px; }
    header .meta { color: #a9b4c4; font-size: 13px; }
    header #live { margin-left: auto; font-size: 13px; color: #a9b4c4; }
    header #live.ok::before { content: "●"; color: #3ccf7a; margin-right: 6px; }
    header #live.down::before { content: "●"; color: #ff6b6b; margin-right: 6px; }
    main { padding: 20px 28px 40px; max-width: 1280px; }
    .cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 18px; }
    .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 120px; }
    .card .n { font-size: 22px; font-weight: 600; }
    .card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
    section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; margin-bottom: 18px; }
    section h2 { font-size: 15px; margin: 0 0 10px; }
    table { width: 100%; border-collapse: collapse; }
    th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .4px; border-bottom: 1px solid var(--line); padding: 6px 8px; }
    td { border-bottom: 1px solid var(--line); padding: 8px; vertical-align: middle; }
    tr.job { cursor: pointer; }
    tr.job:hover, tr.job.selected { background: #f0f5ff; }
    .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #eef0f3; color: var(--muted); }
    .badge.running, .badge.gathering, .badge.training, .badge.busy { background: #e3edff; color: var(--accent); }
    .badge.committed, .badge.idle { background: #e2f6ea; color: var(--ok); }
    .badge.failed, .badge.quarantined { background: #fde8e8; color: var(--bad); }
    .badge.cancelled { background: #f2f2f2; color: #777; }
    .bar { position: relative; height: 18px; min-width: 160px; background: #eef0f3; border-radius: 9px; overflow: hidden; }
    .bar .fill { height: 100%; background: linear-gradient(90deg, #4f8bf0, #2f6fde); transition: width .4s; }
    .bar.committed .fill { background: linear-gradient(90deg, #38b46f, #1f9d55); }
    .bar.failed .fill, .bar.cancelled .fill { background: #c9ced6; }
    .bar .pct { position: absolute; inset: 0; text-align: center; font-size: 12px; font-weight: 600; line-height: 18px; color: #1d2430; }
    .sub { color: var(--muted); font-size: 12px; }
    .stages span { display: inline-block; margin: 0 6px 2px 0; padding: 0 6px; border-radius: 4px; background: #f2f4f7; font-size: 12px; }
    .stages span.running { background: #e3edff; color: var(--accent); }
    .error { color: var(--bad); font-size: 12px; max-width: 420px; }
    .warning { color: var(--warn); font-size: 12px; max-width: 420px; }
    .card.warn { border-color: var(--warn); } .card.warn .n { color: var(--warn); }
    td.mixed { color: var(--warn); font-weight: 600; }
    .empty { color: var(--muted); padding: 8px 0; }
    .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
    @media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
    svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #667085; }
    .legend { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
    .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
    code { font-size: 12px; }
    </style>
    </head>
    <body>
    <header><h1>TailForge cluster</h1><span class="meta" id="meta"></span><span id="live" class="ok">live</span></header>
    <main>
    <div class="cards" id="cards"></div>
    <section><h2>Jobs</h2><table id="jobs"><thead><tr><th>Job</th><th>State</th><th>Progress</th><th>Rows</th><th>Stages</th><th>Elapsed</th></tr></thead><tbody></tbody></table><div class="empty" id="jobs-empty">No jobs yet: <code>tailforge submit jobs/demo.yaml --coordinator …</code></div></section>
    <div class="grid">
    <section><h2 id="chart-title">Class counts</h2><div id="chart"></div></section>
    <section><h2>Training</h2><div id="training"></div></section>
    </div>
    <section><h2>Workers</h2><table id="workers"><thead><tr><th>Worker</th><th>Host</th><th>Threads</th><th>OpenBLAS</th><th>State</th><th>Current work</th><th>Heartbeat</th></tr></thead><tbody></tbody></table><div class="empty" id="workers-empty">No workers registered.</div></section>
    </main>

    """

    static let script = #"""
    (function () {
      "use strict";
      var token = new URLSearchParams(location.search).get("token");
      var selected = null, last = null, lastOk = Date.now();
      function el(tag, attrs, children) {
        var node = document.createElement(tag);
        for (var k in attrs || {}) { if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]); }
        (children || []).forEach(function (c) { if (c) node.appendChild(c); });
        return node;
      }
      function svg(tag, attrs, text) {
        var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
        for (var k in attrs) node.setAttribute(k, attrs[k]);
        if (text !== undefined) node.textContent = text;
        return node;
      }
      function secs(s) {
        if (s < 10) return s.toFixed(1) + " s";
        if (s < 60) return Math.round(s) + " s";
        if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
        return (s / 3600).toFixed(1) + " h";
      }
      function num(n) { return n.toLocaleString("en-US"); }
      function card(n, label) { return el("div", { class: "card" }, [el("div", { class: "n", text: String(n) }), el("div", { class: "l", text: label })]); }

      function renderJobs(data) {
        var body = document.querySelector("#jobs tbody");
        body.textContent = "";
        document.getElementById("jobs-empty").style.display = data.jobs.length ? "none" : "";
        data.jobs.slice().reverse().forEach(function (job) {
          var pct = Math.round(job.progress * 100);
          var detail = job.state === "queued" ? "planning" : job.state === "gathering" ? "gathering shards" :
            job.state === "training" ? "training the model (loss curve below)" :
            job.isTerminal ? job.shardCount + " shards" : job.stage + ": " + job.shardsDone + "/" + job.shardCount + " shards";
          var stages = el("div", { class: "stages" }, job.stages.map(function (s) {
            return el("span", { class: s.running ? "running" : "", text: s.name + " " + secs(s.seconds) + (s.running ? " …" : "") });
          }));
          var name = el("td", {}, [el("div", { text: job.name }), el("div", { class: "sub", text: job.id })]);
          if (job.error) name.appendChild(el("div", { class: "error", text: job.error }));
          if (job.kernelWarning) name.appendChild(el("div", { class: "warning", "data-kernel-warning": "", text: "warning: " + job.kernelWarning }));
          var row = el("tr", { class: "job" + (selected === job.id ? " selected" : ""), "data-job": job.id, "data-state": job.state, "data-progress": String(pct) }, [
            name,
            el("td", {}, [el("span", { class: "badge " + job.state, text: job.state })]),
            el("td", {}, [el("div", { class: "bar " + job.state }, [el("div", { class: "fill", style: "width:" + pct + "%" }), el("div", { class: "pct", text: pct + "%" })]),
                          el("div", { class: "sub", text: detail })]),
            el("td", { text: num(job.rowsWritten) + " / " + num(job.totalRows) }),
            el("td", {}, [stages]),
            el("td", { text: secs(job.elapsedSeconds) })
          ]);
          row.addEventListener("click", function () { selected = job.id; render(last); });
          body.appendChild(row);
        });
      }

      function renderChart(data) {
        var box = document.getElementById("chart");
        box.textContent = "";
        var jobs = data.jobs.filter(function (j) { return j.classCounts; });
        var job = jobs.filter(function (j) { return j.id === selected; })[0] || jobs[jobs.length - 1];
        document.getElementById("chart-title").textContent = job ? "Class counts: " + job.name : "Class counts";
        if (!job) { box.appendChild(el("div", { class: "empty", text: "A job's rows per class appear here once it is planned." })); return; }
        var before = job.classCounts.before, after = job.classCounts.after;
        var order = before.map(function (_, i) { return i; }).sort(function (a, b) { return before[b] - before[a] || a - b; });
        var W = 560, H = 220, L = 44, B = 24, T = 8, R = 8;
        var max = Math.max(1, Math.max.apply(null, after.concat(before)));
        var top = Math.pow(10, Math.ceil(Math.log10(max)));
        function y(v) { return T + (H - T - B) * (1 - Math.log10(Math.max(v, 1)) / Math.log10(Math.max(top, 10))); }
        var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "aria-label": "rows per class before and after balancing", id: "class-chart" });
        for (var t = 1; t <= top; t *= 10) {
          chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), stroke: "#eef0f3" }));
          chart.appendChild(svg("text", { x: L - 6, y: y(t) + 4, "text-anchor": "end" }, t >= 1000 ? (t / 1000) + "k" : String(t)));
        }
        var step = (W - L - R) / order.length, w = Math.max(1, step * 0.8);
        order.forEach(function (c, i) {
          var x = L + i * step + (step - w) / 2;
          chart.appendChild(svg("rect", { x: x, y: y(after[c]), width: w, height: H - B - y(after[c]), fill: "#9cbcf5", "class": "after" }));
          chart.appendChild(svg("rect", { x: x + w * 0.2, y: y(before[c]), width: w * 0.6, height: H - B - y(before[c]), fill: "#344054", "class": "before" }));
        });
        chart.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#98a2b3" }));
        chart.appendChild(svg("text", { x: (L + W) / 2, y: H - 6, "text-anchor": "middle" }, before.length + " classes, largest to smallest before balancing (log scale)"));
        box.appendChild(chart);
        var sum = function (a) { return a.reduce(function (s, v) { return s + v; }, 0); };
        var legend = el("div", { class: "legend" });
        legend.appendChild(el("i", { style: "background:#344054" }));
        legend.appendChild(document.createTextNode("before: " + num(sum(before)) + " rows, smallest class " + num(Math.min.apply(null, before))));
        legend.appendChild(el("i", { style: "background:#9cbcf5" }));
        legend.appendChild(document.createTextNode("after: " + num(sum(after)) + " rows, smallest class " + num(Math.min.apply(null, after))));
        box.appendChild(legend);
      }

      function renderTraining(data) {
        var box = document.getElementById("training");
        box.textContent = "";
        if (!data.training.length) { box.appendChild(el("div", { class: "empty", text: "No training session. `tailforge train --distributed` shows its loss curve here." })); return; }
        data.training.forEach(function (s) {
          var pts = s.losses, lastPoint = pts[pts.length - 1];
          box.appendChild(el("div", { "data-session": s.session }, [
            el("div", {}, [el("strong", { text: s.session + " " }), el("span", { class: "badge " + (s.open ? "running" : "committed"), text: s.open ? "open" : "closed" }),
              el("span", { class: "sub", "data-fit": "", text: s.fit ? " " + s.fit : "" })]),
            el("div", { class: "sub", text: s.loadedShards + "/" + s.shards + " shards loaded · " + s.evaluations + " gradient requests" +
              (lastPoint ? " · iteration " + lastPoint.iteration + ", loss " + lastPoint.loss.toPrecision(5) + ", ‖g‖ " + lastPoint.gradientNorm.toPrecision(3) : "") })
          ]));
          if (pts.length < 2) return;
          var W = 560, H = 180, L = 52, B = 22, T = 8, R = 8;
          var lo = Math.min.apply(null, pts.map(function (p) { return p.loss; })), hi = Math.max.apply(null, pts.map(function (p) { return p.loss; }));
          if (hi === lo) hi = lo + 1;
          var i0 = pts[0].iteration, i1 = Math.max(pts[pts.length - 1].iteration, i0 + 1);
          function x(i) { return L + (W - L - R) * (i - i0) / (i1 - i0); }
          function y(v) { return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); }
          var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "aria-label": "loss per iteration", "class": "loss-chart" });
          [lo, (lo + hi) / 2, hi].forEach(function (v) {
            chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eef0f3" }));
            chart.appendChild(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toPrecision(3)));
          });
          chart.appendChild(svg("polyline", { fill: "none", stroke: "#2f6fde", "stroke-width": 2, points: pts.map(function (p) { return x(p.iteration) + "," + y(p.loss); }).join(" ") }));
          chart.appendChild(svg("text", { x: (L + W) / 2, y: H - 5, "text-anchor": "middle" }, "loss by L-BFGS iteration (" + i0 + "–" + i1 + ")"));
          box.appendChild(chart);
        });
      }

      function sameFamily(a, b) { return !a || !b || a === "unknown" || b === "unknown" || a.toLowerCase() === b.toLowerCase(); }

      function renderWorkers(data) {
        var body = document.querySelector("#workers tbody");
        body.textContent = "";
        document.getElementById("workers-empty").style.display = data.workers.length ? "none" : "";
        data.workers.forEach(function (w) {
          // A worker between a training job's shards computes nothing but still serves its rows' gradients.
          var state = w.quarantined ? "quarantined" : w.busyWith ? "busy" : w.training ? "training" : "idle";
          var work = [w.busyWith, w.training ? "serving " + w.training : null].filter(Boolean).join("; ");
          var family = w.blasCore || "unknown", blas = { class: "blas", text: family };
          if (!sameFamily(family, data.blasCore)) {
            blas = { class: "blas mixed", text: family, title: "not the coordinator's family (" + data.blasCore + "): a training job computed partly here mixes kernel families" };
          }
          body.appendChild(el("tr", { "data-worker": w.name }, [
            el("td", { text: w.name }), el("td", { text: w.host }), el("td", { text: String(w.threads) }),
            el("td", blas),
            el("td", {}, [el("span", { class: "badge " + state, text: state, title: w.quarantined || "" })]),
            el("td", {}, [el("code", { text: work || "–" })]),
            el("td", { text: w.heartbeatAgeSeconds.toFixed(1) + " s ago" })
          ]));
        });
      }

      function render(data) {
        if (!data) return;
        last = data;
        document.getElementById("meta").textContent = "TailForge " + data.version + " · " + data.endpoint +
          (data.blasCore ? " · coordinator OpenBLAS " + data.blasCore : "");
        var cards = document.getElementById("cards");
        cards.textContent = "";
        var c = data.jobCounts;
        cards.appendChild(card((c.running || 0) + (c.gathering || 0) + (c.training || 0) + (c.queued || 0), "live jobs"));
        cards.appendChild(card(c.committed || 0, "committed"));
        cards.appendChild(card((c.failed || 0) + (c.cancelled || 0), "failed / cancelled"));
        cards.appendChild(card(data.workers.length, "workers"));
        cards.appendChild(card(data.training.filter(function (s) { return s.open; }).length, "training sessions"));
        var mixed = Object.keys(data.mixedKernelJobs || {}).reduce(function (n, k) { return n + data.mixedKernelJobs[k]; }, 0);
        if (mixed) { var warn = card(mixed, "jobs on mixed OpenBLAS kernels"); warn.className = "card warn"; warn.id = "mixed-kernels"; cards.appendChild(warn); }
        renderJobs(data); renderChart(data); renderTraining(data); renderWorkers(data);
      }

      function setLive(ok) {
        var live = document.getElementById("live");
        if (ok) lastOk = Date.now();
        live.className = ok ? "ok" : "down";
        live.textContent = ok ? "live" : "no answer for " + Math.round((Date.now() - lastOk) / 1000) + " s";
      }

      function poll() {
        fetch("api/status", { cache: "no-store", headers: token ? { Authorization: "Bearer " + token } : {} })
          .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
          .then(function (data) { render(data); setLive(true); })
          .catch(function () { setLive(false); });
      }

      render(JSON.parse(document.getElementById("initial").textContent));
      setInterval(poll, 1000);
    })();
    """#
}
