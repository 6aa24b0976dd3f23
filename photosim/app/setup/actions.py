"""Setting photosim up from the app: model weights, preferences, About and the log.

:class:`SetupActions` owns Edit > Preferences, Help > Model Weights / About / Show Log
and the weights prompt of the neighbours strip (the degraded state's two ways out).
Checking a weights file, switching weights or model and downloading run in workers;
a change of the open library's weights or model goes through ``LibraryState.change``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from photosim.api import DEFAULT_MODEL, MODELS, Library, weights_in_use
from photosim.app import messages
from photosim.app.browse.browser import BrowsePane
from photosim.app.commands import Commands
from photosim.app.library_state import LibraryState
from photosim.app.setup.about import WAITING, about_html, model_facts
from photosim.app.setup.preferences import (
    Preferences,
    PreferencesDialog,
    engine_defaults,
    prune_in_background,
)
from photosim.app.setup.weights import (
    WEIGHTS_FILTER,
    DownloadDialog,
    WeightsDialog,
    WeightsPrompt,
    check_weights,
)
from photosim.app.workers import Worker
from photosim.core import paths
from photosim.core.errors import PhotosimError
from photosim.core.events import ModelInUse, ScanProgress


class SetupActions(QObject):
    """Weights, preferences, About and the log (see module docstring)."""

    def __init__(self, window: QMainWindow, state: LibraryState, browser: BrowsePane,
                 settings: QSettings, commands: Commands) -> None:  # fmt: skip
        super().__init__(window)
        self.window, self.state, self.browser, self.settings = window, state, browser, settings
        self.signals = state.signals
        state.engine_options.update(engine_defaults(state.engine_options, settings))
        self._remembered = self._read_remembered()  # model -> weights file, for workers
        self._untrained_said: set[str] = set()  # model keys the untrained notice was shown for
        self.untrained_box: QMessageBox | None = None
        self.untrained_answer: tuple[str | None, bool] | None = None  # the last check's
        state.prepare = self._prepare
        self.weights_prompt = WeightsPrompt()
        self.weights_prompt.choose.connect(self.choose_weights_file)
        self.weights_prompt.download.connect(self.download_weights)
        browser.strip.stack.addWidget(self.weights_prompt)
        commands.add(window, "edit", "&Preferences…", self.show_preferences,
                     shortcut="Ctrl+,")  # fmt: skip
        commands.add(window, "help", "&Model Weights…", self.show_weights_help)
        commands.add(window, "help", "&About photosim", self.show_about)
        self.show_log_action = commands.add(window, "help", "Show &Log", self.show_log)
        self.signals.scan_finished.connect(self._on_scan_finished)
        self.signals.weights_needed.connect(self.show_weights_prompt)
        prune_in_background(Preferences.read(settings).cache_mb * 1_000_000)

    def _say(self, text: str) -> None:
        self.signals.status_message.emit(text)

    # -- weights ----------------------------------------------------------------------
    def _read_remembered(self) -> dict[str, str]:
        values = {m: str(self.settings.value(f"weights/{m}", "") or "") for m in MODELS}
        return {m: v for m, v in values.items() if v}

    def _prepare(self, library: Library) -> None:
        """In the opener's worker, before the first scan: a library without weights gets
        those chosen in the app for its model (if the file is still there)."""
        if library.model.weights or self.state.engine_options.get("backbone") is not None:
            return
        weights = self._remembered.get(library.model.name)
        if weights and os.path.isfile(weights):
            with contextlib.suppress(PhotosimError):  # changed since: the prompt offers again
                library.model.set_weights(weights)

    def _model_name(self) -> str:
        if self.state.library is not None:
            return self.state.library.model.name
        return self.state.engine_options.get("model") or DEFAULT_MODEL

    def show_weights_prompt(self, text: str, title: str = "") -> None:
        """The degraded state in the neighbours pane: the reason and two ways out."""
        strip = self.browser.strip
        strip.show_message(text, title)
        model = self._model_name()
        self.weights_prompt.set_text(
            f"Similarity needs the pretrained {model} weights: choose a {model} weights "
            f"file (.pth), or download them from pytorch.org."
        )
        self.weights_prompt.message.setToolTip(text)  # the details, with the file expected
        strip.stack.setCurrentWidget(self.weights_prompt)
        if self.browser.current is not None:
            self.signals.similarity_unavailable.emit(text)

    def show_weights_help(self) -> WeightsDialog:
        """Help > Model Weights: which file is in use (path, size), or that none is and why,
        with Choose / Download. The facts come from a worker ("…" until then); the dialog
        stays open until a chosen file or a download has switched similarity on."""
        dialog = WeightsDialog(WAITING, self.window)
        dialog.prompt.choose.connect(self.choose_weights_file)
        dialog.prompt.download.connect(self.download_weights)
        self.weights_dialog = dialog
        facts = Worker(lambda _abort: model_facts(self.state.library, self.state.engine_options),
                       name="photosim-weights-facts")  # fmt: skip
        facts.finished.connect(lambda found: self._show_weights_state(dialog, found))
        facts.errored.connect(lambda exc: dialog.prompt.set_text(messages.describe(exc)))
        dialog.finished.connect(facts.abandon)
        facts.start()
        dialog.open()
        return dialog

    def _show_weights_state(self, dialog: WeightsDialog, facts: ModelInUse) -> None:
        dialog.prompt.set_text(messages.weights_state(facts, self.state.model_error))
        dialog.adjustSize()

    def choose_weights_file(self, path: str | None = None) -> bool:
        """Pick a state-dict file; it is checked before use and remembered for this model."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self.window, f"Choose {self._model_name()} weights", str(Path.home()),
                WEIGHTS_FILTER)  # fmt: skip
        if path:
            self.use_weights(path, self._model_name())
        return bool(path)

    def download_weights(self, url: str | None = None) -> DownloadDialog:
        """Download torchvision's weights of the model in use, with progress and Cancel."""
        dialog = DownloadDialog(self._model_name(), self._dialog_parent(), url=url or None)
        dialog.downloaded.connect(lambda model: self.use_weights(None, model))
        dialog.finished.connect(self._on_download_finished)
        self.download_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_parent(self) -> QWidget:
        """The open Model Weights dialog, else the window: a dialog opens above its parent."""
        dialog = getattr(self, "weights_dialog", None)
        return dialog if dialog is not None and dialog.isVisible() else self.window

    def _on_download_finished(self, _result: int) -> None:
        if error := self.download_dialog.error:
            self._show_weights_error(error)

    def use_weights(self, weights: str | None, model: str) -> None:
        """Switch similarity on (or to another model) now: no restart; waiting photos embed.

        A file is checked first in a worker (a large state dict takes ~0.5 s to read); a
        wrong one gets one sentence and changes nothing.
        """
        if not weights:
            self._switch_weights(None, model)
            return
        check = check_weights(weights, model)
        check.finished.connect(lambda _none: self._switch_weights(weights, model))
        check.errored.connect(self._on_weights_refused)
        check.start()

    def _on_weights_refused(self, exc: Exception) -> None:
        text = messages.describe(exc)
        self._show_weights_error(text)
        self.signals.similarity_unavailable.emit(text)

    def _show_weights_error(self, text: str) -> None:
        """One sentence where the user chose: the strip's prompt and the open dialog (which
        stays open), never only a status-bar line."""
        self.weights_prompt.set_text(self.weights_prompt.message.text(), text)
        dialog = getattr(self, "weights_dialog", None)
        if dialog is not None and dialog.isVisible():
            dialog.prompt.set_text(dialog.prompt.message.text(), text)

    def _switch_weights(self, weights: str | None, model: str) -> None:
        weights = str(Path(weights).resolve()) if weights else None

        def switched(_none: object = None) -> None:
            self.settings.setValue(f"weights/{model}", weights or "")
            self._remembered = self._read_remembered()
            self.state.engine_options.update(model=model, weights=weights, backbone=None)
            self.state.model_error = None
            self.weights_prompt.set_text("", "")
            if (dialog := getattr(self, "weights_dialog", None)) is not None and dialog.isVisible():
                dialog.accept()  # done: similarity is on
            if self.state.library is not None:
                self.browser.strip.show_progress("Embedding the photos with the new weights…")

        if self.state.library is None:
            switched()
            return
        self.state.change(lambda library: library.model.set_weights(weights, model, check=False),
                          switched, self._on_weights_refused)  # fmt: skip

    def _on_scan_finished(self, final: ScanProgress | None) -> None:
        if final is not None and self.state.model_error and self.browser.current is None:
            self.show_weights_prompt(messages.describe(self.state.model_error), "Similarity is off")
        if (library := self.state.library) is not None and final is not None:
            check = Worker(lambda _abort: (library.model.current_key(), library.weights_look_untrained()),
                           name="photosim-untrained")  # fmt: skip
            check.finished.connect(self._on_untrained_checked)
            self.untrained_answer = None
            check.start()

    def _on_untrained_checked(self, answer: tuple[str | None, bool]) -> None:
        """Untrained weights (every pair ~99 % alike): one notice per model key, not per scan."""
        self.untrained_answer = answer
        key, untrained = answer
        if not untrained or key is None or key in self._untrained_said:
            return
        self._untrained_said.add(key)
        box = QMessageBox(QMessageBox.Icon.Warning, "These weights look untrained",
                          messages.UNTRAINED, parent=self.window)  # fmt: skip
        self.untrained_box = box
        box.open()

    # -- preferences --------------------------------------------------------------------
    def show_preferences(self) -> PreferencesDialog:
        prefs = Preferences.read(self.settings)
        if (library := self.state.library) is not None:
            prefs = Preferences(library.model.name, library.model.device, prefs.precision,
                                self.browser.strip.k_box.value(), prefs.cache_mb,
                                prefs.backend)  # fmt: skip
        dialog = PreferencesDialog(prefs, self.window, weights_for=self._weights_here)
        dialog.accepted.connect(lambda: self.apply_preferences(dialog.values()))
        dialog.choose_requested.connect(lambda model: self._choose_for(dialog, model))
        dialog.download_requested.connect(lambda model: self._download_for(dialog, model))
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    def _weights_here(self, model: str) -> int | None:
        """In a worker: the size of ``model``'s weights file on this computer, None when there
        is none (the model handed in at start counts as there)."""
        library = self.state.library
        if self.state.engine_options.get("backbone") is not None and (
            library is None or library.model.name == model
        ):
            return 0
        chosen = (
            library.model.weights if library is not None and library.model.name == model else None
        )
        return weights_in_use(model, chosen or self._remembered.get(model))[1]

    def _choose_for(self, dialog: PreferencesDialog, model: str) -> None:
        """Preferences > Model: a weights file for ``model`` before switching to it; checked
        in a worker, remembered for the model when it fits, one sentence when not."""
        path, _ = QFileDialog.getOpenFileName(dialog, f"Choose {model} weights",
                                              str(Path.home()), WEIGHTS_FILTER)  # fmt: skip
        if not path:
            return
        check = check_weights(path, model)

        def fits(_none: object) -> None:
            self.settings.setValue(f"weights/{model}", str(Path(path).resolve()))
            self._remembered = self._read_remembered()
            dialog.check_weights()

        check.finished.connect(fits)
        check.errored.connect(lambda exc: dialog.show_weights_error(messages.describe(exc)))
        check.start()

    def _download_for(self, dialog: PreferencesDialog, model: str) -> DownloadDialog:
        """Preferences > Model: torchvision's weights of ``model`` before switching to it."""
        download = DownloadDialog(model, dialog)
        download.downloaded.connect(lambda _model: dialog.check_weights())
        download.finished.connect(
            lambda _r: download.error and dialog.show_weights_error(download.error)
        )
        download.open()
        self.download_dialog = download
        return download

    def apply_preferences(self, prefs: Preferences) -> None:
        """Apply at once: k, cache size, device, precision, backend; a new model re-embeds the
        library (device, precision, backend and model change in a worker: a scan may hold the
        model). An injected model (tests) runs as given, on torch."""
        prefs.write(self.settings)
        self.browser.strip.k_box.setValue(prefs.k)
        prune_in_background(prefs.cache_mb * 1_000_000)
        options = self.state.engine_options
        options.update(device=prefs.device, precision=prefs.precision)
        injected = options.get("backbone") is not None
        if not injected:
            options["backend"] = prefs.backend
        library = self.state.library
        if library is None:
            options["model"] = prefs.model
            return
        weights = self._remembered.get(prefs.model)

        def configure(library: Library) -> None:
            library.model.precision = prefs.precision
            library.model.set_device(prefs.device)
            if not injected:
                library.model.set_backend(prefs.backend)
            if prefs.model == library.model.name:
                return
            try:
                library.model.set_weights(weights, prefs.model)
            except PhotosimError:
                library.model.set_weights(None, prefs.model)

        def configured(_none: object) -> None:
            options.update(model=prefs.model, weights=library.model.weights)
            self.state.model_error = None
            self._say(f"Embedding the library with {prefs.model}…")

        if prefs.model == library.model.name:  # no re-embedding: the scan goes on
            Worker(lambda _abort: configure(library), name="photosim-device").start()
            return
        self.state.change(configure, configured)

    # -- about and the log ----------------------------------------------------------------
    def show_about(self) -> QMessageBox:
        """Help > About; the model's rows say "…" until a worker has read them."""
        library = self.state.library
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About photosim", about_html(library, None),
                          parent=self.window)  # fmt: skip
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
        facts = Worker(lambda _abort: model_facts(library, self.state.engine_options),
                       name="photosim-about")  # fmt: skip
        facts.finished.connect(lambda found: box.setText(about_html(library, found)))
        box.finished.connect(facts.abandon)
        facts.start()
        self.about_box = box
        box.open()
        return box

    def show_log(self) -> bool:
        """Open the log file in the system's text viewer."""
        log_file = getattr(paths, "log_file", None)
        path = log_file() if log_file else None
        if path is None or not Path(path).is_file():
            self._say("There is no log file yet: nothing has been logged.")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
