/*
 * The PiNozCam tab in OctoPrint: live annotated picture, severity, incidents and the settings
 * form. Data comes from GET api/plugin/pinozcam every 2 s while the tab is shown; settings are
 * OctoPrint's own (settings.plugins.pinozcam), saved through the settings view model.
 */
$(function () {
    "use strict";
    var panel = window.PinozcamPanel;

    function PinozcamViewModel(parameters) {
        var self = this;
        self.settingsViewModel = parameters[0];
        self.loginState = parameters[1];

        self.status = ko.observable(null);
        self.connected = ko.observable(false);
        self.incidents = ko.observableArray([]);
        self.actions = ko.observableArray([]);
        self.problems = ko.observableArray([]);
        self.cameraText = ko.observable("");
        self.snapshot = ko.observable("");
        self.chart = ko.observable(panel.historyChart(null, 300, 60));
        self.visible = false;
        self.timer = null;

        self.severityText = ko.pureComputed(function () { return panel.severityText(self.status()); });
        self.bandClass = ko.pureComputed(function () { return panel.bandClass(self.status()); });
        self.plugin = ko.pureComputed(function () {
            var all = self.settingsViewModel.settings;
            return all && all.plugins && all.plugins.pinozcam;
        });

        self.refresh = function () {
            OctoPrint.get(panel.BASE_API).done(function (data) {
                self.status(data.status);
                self.connected(data.connected);
                self.incidents(panel.incidentRows(data.incidents));
                self.chart(panel.historyChart(data.history, 300, 60));
                self.actions(data.actions || []);
                self.problems(data.settings_problems || []);
                self.cameraText(data.camera.url ? data.camera.url + " (" + data.camera.source + ")"
                                                : data.camera.problem);
                if (data.connected) { self.snapshot(panel.snapshotUrl()); }
            });
        };

        self.command = function (name, extra) {
            OctoPrint.postJson(panel.BASE_API, $.extend({command: name}, extra || {})).done(self.refresh);
        };
        self.detectNow = function () { self.command("detect_now"); };
        self.mute = function () { self.command("mute", {muted: true}); };
        self.markFalseAlarm = function (row) {
            self.command("feedback", {incident_id: row.id, label: "false_alarm"});
        };
        self.markRealFailure = function (row) {
            self.command("feedback", {incident_id: row.id, label: "real_failure"});
        };
        self.saveSettings = function () {
            self.settingsViewModel.saveData(undefined, self.refresh);
        };

        self.onTabChange = function (current) {
            self.visible = current === "#tab_plugin_pinozcam";
            if (self.visible && !self.timer) {
                self.refresh();
                self.timer = setInterval(self.refresh, 2000);
            } else if (!self.visible && self.timer) {
                clearInterval(self.timer);
                self.timer = null;
            }
        };
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: PinozcamViewModel,
        dependencies: ["settingsViewModel", "loginStateViewModel"],
        elements: ["#tab_plugin_pinozcam"]
    });
});
