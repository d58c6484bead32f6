/*
 * The PiNozCam tab in OctoPrint: live annotated picture, severity, incidents, the mask editor
 * and the settings form. Data comes from GET api/plugin/pinozcam every 2 s while the tab is
 * shown; settings are OctoPrint's own (settings.plugins.pinozcam), saved through the settings
 * view model (the form) or OctoPrint's settings API (masks).
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
        // Why the severity and picture shown are not live ("" while they are).
        self.notLive = ko.observable("waiting for OctoPrint's first answer");
        self.incidents = ko.observableArray([]);
        self.actions = ko.observableArray([]);
        self.problems = ko.observableArray([]);
        self.cameraText = ko.observable("");
        self.commandMessage = ko.observable("");  // why the last button's command failed
        self.snapshot = ko.observable("");
        self.chart = ko.observable(panel.historyChart(null, 300, 60));
        self.visible = false;
        self.timer = null;

        self.severityText = ko.pureComputed(function () { return panel.severityText(self.status(), self.notLive()); });
        self.bandClass = ko.pureComputed(function () { return panel.bandClass(self.status(), self.notLive()); });
        self.plugin = ko.pureComputed(function () {
            var all = self.settingsViewModel.settings;
            return all && all.plugins && all.plugins.pinozcam;
        });

        self.telegramText = ko.pureComputed(function () { return panel.telegramButtonsText(self.status()); });

        // Mask editor: shapes drawn on the picture, in 0..1 of its width and height. While it is
        // open the picture shows the shapes being edited, otherwise the saved ones.
        self.editingMasks = ko.observable(false);
        self.maskShapes = ko.observableArray([]);
        self.maskDraft = ko.observableArray([]);
        self.maskMessage = ko.observable("");
        self.savedMasks = ko.pureComputed(function () {
            var plugin = self.plugin();
            return plugin && plugin.masks ? panel.normaliseMasks(ko.toJS(plugin.masks)) : [];
        });
        self.shownMasks = ko.pureComputed(function () {
            return (self.editingMasks() ? self.maskShapes() : self.savedMasks()).map(panel.svgPoints);
        });
        self.draftPoints = ko.pureComputed(function () { return panel.svgPoints(self.maskDraft()); });

        self.describeMasks = function () {
            var draft = self.maskDraft().length;
            self.maskMessage(self.maskShapes().length + " shape(s)" + (draft ? ", " + draft + " point(s) placed" : "") +
                             ". Click the picture around what to ignore; click the first point again to close a shape.");
        };
        self.editMasks = function () {
            self.maskShapes(self.savedMasks().slice());
            self.maskDraft([]);
            self.editingMasks(true);
            self.describeMasks();
        };
        self.addMaskPoint = function (data, event) {
            var rect = event.currentTarget.getBoundingClientRect();
            if (!self.editingMasks() || !rect.width || !rect.height) { return; }
            var x = (event.clientX - rect.left) / rect.width, y = (event.clientY - rect.top) / rect.height;
            var draft = self.maskDraft();
            // A click within 12 px of the first point closes the shape.
            if (draft.length >= 3 && Math.hypot((x - draft[0][0]) * rect.width, (y - draft[0][1]) * rect.height) < 12) {
                self.finishMaskShape();
                return;
            }
            self.maskDraft.push([x, y]);
            self.describeMasks();
        };
        self.finishMaskShape = function () {
            if (self.maskDraft().length < 3) {
                self.maskMessage("A shape needs 3 points at least.");
                return;
            }
            self.maskShapes.push(self.maskDraft());
            self.maskDraft([]);
            self.describeMasks();
        };
        self.undoMaskPoint = function () {
            if (self.maskDraft().length) { self.maskDraft.pop(); } else { self.maskShapes.pop(); }
            self.describeMasks();
        };
        self.clearMasks = function () {
            self.maskShapes([]);
            self.maskDraft([]);
            self.describeMasks();
        };
        self.cancelMasks = function () {
            self.editingMasks(false);
            self.maskDraft([]);
            self.maskMessage("");
        };
        self.saveMasks = function () {
            var shapes = self.maskShapes().slice();
            if (self.maskDraft().length >= 3) { shapes.push(self.maskDraft()); }
            var masks = panel.normaliseMasks(shapes);
            self.maskMessage("Saving...");
            OctoPrint.settings.savePluginSettings("pinozcam", {masks: masks}).done(function () {
                // The plugin refuses masks that hide too much; it says so in its status.
                $.when(self.settingsViewModel.requestData(), self.refresh()).done(function () {
                    var refused = self.problems().filter(function (p) { return p.option === "masks"; });
                    if (refused.length) {
                        self.maskMessage("Not saved: " + refused[0].message);
                        return;
                    }
                    self.editingMasks(false);
                    self.maskDraft([]);
                    self.maskMessage(masks.length ? masks.length + " mask(s) saved" : "masks removed");
                });
            }).fail(function (xhr) {
                self.maskMessage("Not saved: " + (xhr.responseText || xhr.statusText || "no answer from OctoPrint"));
            });
        };

        self.refresh = function () {
            return OctoPrint.get(panel.BASE_API).done(function (data) {
                self.notLive(panel.notLiveReason(data));
                self.status(data.status);
                self.connected(data.connected);
                self.incidents(panel.incidentRows(data.incidents));
                self.chart(panel.historyChart(data.history, 300, 60));
                self.actions(data.actions || []);
                self.problems(data.settings_problems || []);
                self.cameraText(data.camera.url ? data.camera.url + " (" + data.camera.source + ")"
                                                : data.camera.problem);
                if (data.connected) { self.snapshot(panel.snapshotUrl()); }
            }).fail(function () {
                // OctoPrint restarting, or the network gone: nothing shown is current.
                self.notLive(panel.notLiveReason(null));
                self.connected(false);
            });
        };

        // what: the button, as the message names it ("Check now").
        self.command = function (name, extra, what) {
            self.commandMessage("");
            OctoPrint.postJson(panel.BASE_API, $.extend({command: name}, extra || {})).done(self.refresh)
                .fail(function (xhr) { self.commandMessage(panel.commandErrorText(what || name, xhr)); });
        };
        self.detectNow = function () { self.command("detect_now", {}, "Check now"); };
        self.muted = ko.pureComputed(function () { return !!(self.status() && self.status().muted); });
        // One button that mutes, or unmutes a print muted by mistake.
        self.mute = function () {
            self.command("mute", {muted: !self.muted()}, self.muted() ? "Unmute" : "Mute this print");
        };
        self.markFalseAlarm = function (row) {
            self.command("feedback", {incident_id: row.id, label: "false_alarm"}, "Marking a false alarm");
        };
        self.markRealFailure = function (row) {
            self.command("feedback", {incident_id: row.id, label: "real_failure"}, "Marking a real failure");
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
