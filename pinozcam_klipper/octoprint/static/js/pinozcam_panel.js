/*
 * PiNozCam panel pieces with no framework: talking to the plugin's API and shaping what the
 * views show. The OctoPrint tab (pinozcam.js) binds these with Knockout; the Mainsail panel
 * (mainsail_panel/) can replace this file with its own modules of the same names.
 */
(function (global) {
    "use strict";

    var BASE_API = "api/plugin/pinozcam";
    var SNAPSHOT = "plugin/pinozcam/snapshot.jpg";

    /**
     * Why what the plugin answered is not live ("" while it is). `data`: the answer to
     * GET api/plugin/pinozcam, or null when OctoPrint did not answer. The plugin keeps the
     * last status a worker sent: without this, a dead detector's last "ok" would look current.
     */
    function notLiveReason(data) {
        if (!data) { return "no answer from OctoPrint"; }
        if (!data.connected) { return "the detector is not connected: starting or not running"; }
        var status = data.status, worker = data.worker || {};
        if (!status) { return "waiting for the detector's first status"; }
        // Connected to a restarted worker that has not reported yet: the status is the old one's.
        if (status.pid && worker.pid && status.pid !== worker.pid) {
            return "waiting for the restarted detector's status";
        }
        return "";
    }

    /** The severity as the tab shows it; "no data" unless it is live (`notLive` ""). */
    function severityText(status, notLive) {
        if (!status || notLive) { return "no data"; }
        var pct = Math.round((status.severity || 0) * 100);
        return (status.band || "ok") + " (" + pct + " %)";
    }

    /** The label's colour for the band; none (grey) unless the severity is live. */
    function bandClass(status, notLive) {
        if (!status || notLive) { return ""; }
        var band = status.band || "ok";
        return band === "failure" ? "label-important" : band === "warning" ? "label-warning" : "label-success";
    }

    function incidentRows(incidents) {
        return (incidents || []).map(function (inc) {
            var opened = inc.opened_at ? new Date(inc.opened_at * 1000).toLocaleString() : "";
            return {
                id: inc.id,
                opened: opened,
                state: inc.state || "",
                action: (inc.action || "notify") + (inc.action_state ? " (" + inc.action_state + ")" : ""),
                severity: Math.round((inc.severity || 0) * 100) + " %",
                label: inc.label || ""
            };
        });
    }

    /**
     * The print's severity history as SVG polyline points in a width x height box (time left to
     * right, severity 0 at the bottom), and the y of the warning and failure lines.
     */
    function historyChart(history, width, height) {
        var points = (history && history.points) || [];
        var thresholds = (history && history.thresholds) || {warning: 0.33, failure: 0.66};
        var y = function (severity) { return (height - severity * height).toFixed(1); };
        var chart = {line: "", warningY: y(thresholds.warning), failureY: y(thresholds.failure),
                     text: points.length ? "" : "no print yet"};
        if (!points.length) { return chart; }
        var first = points[0][0], span = Math.max(points[points.length - 1][0] - first, 1);
        chart.line = points.map(function (p) {
            return ((p[0] - first) / span * width).toFixed(1) + "," + y(p[1]);
        }).join(" ");
        chart.text = (history.print && history.print.file) || "";
        return chart;
    }

    function snapshotUrl() {
        return SNAPSHOT + "?t=" + Date.now();
    }

    /**
     * Mask shapes as the `masks` setting takes them: lists of [x, y] in 0..1 of the picture,
     * rounded to 4 decimals and clamped; shapes of fewer than 3 points are dropped.
     */
    function normaliseMasks(shapes) {
        var clamp = function (v) { return Math.round(Math.min(Math.max(Number(v) || 0, 0), 1) * 10000) / 10000; };
        return (shapes || []).filter(function (shape) { return shape && shape.length >= 3; })
            .map(function (shape) { return shape.map(function (p) { return [clamp(p[0]), clamp(p[1])]; }); });
    }

    /** An SVG points attribute for a shape in 0..1 coordinates. */
    function svgPoints(shape) {
        return (shape || []).map(function (p) { return p[0] + "," + p[1]; }).join(" ");
    }

    /** Why alert buttons do not work ("" while they work or Telegram is not set up). */
    function telegramButtonsText(status) {
        var buttons = status && status.telegram_buttons;
        if (!buttons || !buttons.state || buttons.state === "off") { return ""; }
        return buttons.state === "ok" ? "ok" : buttons.state + ": " + (buttons.message || "");
    }

    /**
     * Why a command was refused, for the user: the plugin's own `error` text (409 while the
     * worker is not connected, 403 without the permission), else OctoPrint's status line.
     */
    function commandErrorText(what, xhr) {
        var body = xhr && xhr.responseJSON;
        var reason = (body && body.error) ||
            (xhr && xhr.status ? xhr.status + " " + (xhr.statusText || "") : "no answer from OctoPrint");
        return what + " failed: " + reason;
    }

    global.PinozcamPanel = {
        BASE_API: BASE_API,
        notLiveReason: notLiveReason,
        severityText: severityText,
        bandClass: bandClass,
        incidentRows: incidentRows,
        snapshotUrl: snapshotUrl,
        historyChart: historyChart,
        normaliseMasks: normaliseMasks,
        svgPoints: svgPoints,
        telegramButtonsText: telegramButtonsText,
        commandErrorText: commandErrorText
    };
})(window);
