"""Setting photosim up from the app: weights, preferences, the library's folders, About, the log,
and queries the grid cannot express alone (several photos, an image dragged from a browser).

A mixin of ``MainWindow`` (kept apart so the window stays readable); it uses the window's
library, settings, strip, runners and scan lifecycle (``ScanMixin``).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QImage, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QMenu, QMessageBox

from photosim.api import DEFAULT_MODEL
from photosim.app.setup.about import about_html
from photosim.app.setup.preferences import (
    Preferences,
    PreferencesDialog,
    engine_defaults,
    prune_in_background,
    remembered_weights,
)
from photosim.app.setup.weights import (
    WEIGHTS_FILTER,
    DownloadDialog,
    WeightsDialog,
    WeightsPrompt,
    check_weights,
)
from photosim.app.workers import pil_to_qimage
from photosim.core import paths
from photosim.core.errors import PhotosimError, shown

DROPPED = "the dropped image"


def image_from_mime(mime) -> Image.Image | None:
    """The picture a drag carries as data (a browser's image drag), without any download."""
    for fmt in mime.formats():
        if fmt.startswith("image/"):
            data = bytes(mime.data(fmt))
            try:
                image = Image.open(io.BytesIO(data))
                image.load()
                return image.convert("RGB")
            except Exception:
                continue
    if mime.hasImage():
        qimage = QImage(mime.imageData())
        if not qimage.isNull():
            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            qimage.save(buffer, "PNG")
            return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    return None


class SetupMixin:
    """Menus and slots for configuring photosim without a terminal (see module docstring)."""

    # -- building (called once from MainWindow.__init__) -------------------------------
    def _init_setup(self) -> None:
        self.engine_options = engine_defaults(self.engine_options, self.settings)
        self.special_query: tuple[str, object] | None = None  # (label, fn(k) -> matches)
        self.weights_prompt = WeightsPrompt()
        self.weights_prompt.choose.connect(self.choose_weights_file)
        self.weights_prompt.download.connect(self.download_weights)
        self.strip.stack.addWidget(self.weights_prompt)
        self.signals.scan_finished.connect(self._on_setup_scan_finished)
        self.signals.library_opened.connect(self._on_setup_library_opened)
        prune_in_background(Preferences.read(self.settings).cache_mb * 1_000_000)

    def _build_setup_menus(self, bar, file_menu, library_menu, help_menu) -> None:
        self.many_action = QAction("Similar to &These", self)
        self.many_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.many_action.setToolTip("Photos like all the selected ones together")
        self.many_action.triggered.connect(self.similar_to_selection)
        file_menu.insertAction(file_menu.actions()[3], self.many_action)
        self.grid.addAction(self.many_action)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        # Ctrl/Shift-click add to the selection; a plain click still selects one photo.
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        edit = QAction("&Preferences…", self)
        edit.setShortcut(QKeySequence.StandardKey.Preferences)
        edit.triggered.connect(self.show_preferences)
        self.edit_menu = QMenu("&Edit", self)
        self.edit_menu.addAction(edit)
        bar.insertMenu(bar.actions()[1], self.edit_menu)
        library_menu.addSeparator()
        self._action(library_menu, "&Add Folder…", self.choose_added_folder, None, "folder-new")
        self.remove_menu = library_menu.addMenu("Remo&ve Folder")
        self.folders_menu = library_menu.addMenu("&Folders")
        self.show_log_action = self._action(help_menu, "Show &Log", self.show_log)
        self._refresh_folders()

    # -- weights ------------------------------------------------------------------
    def _model_name(self) -> str:
        if self.library is not None:
            return self.library.model_name
        return self.engine_options.get("model") or DEFAULT_MODEL

    def show_weights_prompt(self, text: str, title: str = "") -> None:
        """The degraded state in the neighbours pane: the reason and two ways out."""
        self.strip.show_message(text, title)
        model = self._model_name()
        self.weights_prompt.set_text(
            f"Similarity needs the pretrained {model} weights: choose a {model} weights "
            f"file (.pth), or download them from pytorch.org."
        )
        self.weights_prompt.message.setToolTip(text)  # the details, with the file expected
        self.strip.stack.setCurrentWidget(self.weights_prompt)
        if self.current is not None:
            self.signals.similarity_unavailable.emit(text)

    def show_weights_help(self) -> None:
        """Help > Model Weights: what is loaded, or why not, with Choose / Download."""
        text = (
            str(self.model_error)
            if self.model_error
            else (
                f"The {self._model_name()} weights are loaded; similarity is on. "
                f"You can still choose another weights file."
            )
        )
        dialog = WeightsDialog(text, self)
        dialog.prompt.choose.connect(dialog.accept)
        dialog.prompt.choose.connect(self.choose_weights_file)
        dialog.prompt.download.connect(dialog.accept)
        dialog.prompt.download.connect(self.download_weights)
        self.weights_dialog = dialog
        dialog.open()

    def choose_weights_file(self, path: str | None = None) -> bool:
        """Pick a state-dict file; it is checked before use and remembered for this model."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, f"Choose {self._model_name()} weights", str(Path.home()), WEIGHTS_FILTER
            )
        if path:
            self.use_weights(path, self._model_name())
        return bool(path)

    def download_weights(self, url: str | None = None) -> DownloadDialog:
        """Download torchvision's weights of the model in use, with progress and Cancel."""
        dialog = DownloadDialog(self._model_name(), self, url=url or None)
        dialog.downloaded.connect(lambda model: self.use_weights(None, model))
        dialog.finished.connect(self._on_download_finished)
        self.download_dialog = dialog
        dialog.open()
        return dialog

    def _on_download_finished(self, _result: int) -> None:
        dialog = self.download_dialog
        if dialog.error:
            self.weights_prompt.set_text(self.weights_prompt.message.text(), dialog.error)
            self.status_text.setText(dialog.error)

    def use_weights(self, weights: str | None, model: str) -> None:
        """Switch similarity on (or to another model) now: no restart; waiting photos embed.

        A file is checked first in a thread (a large state dict takes ~0.5 s to read); a wrong
        one gets one sentence and changes nothing.
        """
        if not weights:
            self._switch_weights(None, model)
            return
        check = check_weights(weights, model)
        check.finished.connect(lambda _none: self._switch_weights(weights, model))
        check.errored.connect(self._on_weights_refused)
        self.weights_check = check
        self.status_text.setText(f"Checking {shown(os.path.basename(weights))}…")
        check.start()

    def _on_weights_refused(self, exc: Exception) -> None:
        self.weights_prompt.set_text(self.weights_prompt.message.text(), str(exc))
        self.status_text.setText(str(exc))
        self.signals.similarity_unavailable.emit(str(exc))

    def _switch_weights(self, weights: str | None, model: str) -> None:
        if self.library is not None:
            self._stop_scan_now()
            try:
                self.library.set_weights(weights, model, check=False)  # checked just now
            except PhotosimError as exc:
                self._on_weights_refused(exc)
                return
        weights = str(Path(weights).resolve()) if weights else None
        self.settings.setValue(f"weights/{model}", weights or "")
        self.engine_options.update(model=model, weights=weights, backbone=None)
        self.model_error = None
        self.weights_prompt.set_text("", "")
        if self.library is not None:
            self.strip.show_message("Embedding the photos with the new weights…")
            self.start_scan()

    def _on_setup_library_opened(self, library) -> None:
        """Before its first scan: a library without weights gets those chosen for its model."""
        self._refresh_folders()
        if library.weights or self.engine_options.get("backbone") is not None:
            return
        weights = remembered_weights(self.settings, library.model_name)
        if weights:
            with contextlib.suppress(PhotosimError):  # changed since: the prompt offers again
                library.set_weights(weights)

    def _on_setup_scan_finished(self, final) -> None:
        if final is not None and self.model_error and self.current is None:
            self.show_weights_prompt(str(self.model_error), "Similarity is off")

    # -- preferences --------------------------------------------------------------
    def show_preferences(self) -> PreferencesDialog:
        prefs = Preferences.read(self.settings)
        if self.library is not None:
            prefs = Preferences(self.library.model_name, self.library.device, prefs.precision,
                                self.strip.k_box.value(), prefs.cache_mb)  # fmt: skip
        dialog = PreferencesDialog(prefs, self)
        dialog.accepted.connect(lambda: self.apply_preferences(dialog.values()))
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    def apply_preferences(self, prefs: Preferences) -> None:
        """Apply at once: k, cache size, device, precision; a new model re-embeds the library."""
        prefs.write(self.settings)
        self.strip.k_box.setValue(prefs.k)
        prune_in_background(prefs.cache_mb * 1_000_000)
        self.engine_options["device"] = prefs.device
        if "precision" in self.engine_options:
            self.engine_options["precision"] = prefs.precision
        library = self.library
        if library is None:
            self.engine_options["model"] = prefs.model
            return
        if hasattr(library, "precision"):
            library.precision = prefs.precision
        library.set_device(prefs.device)
        if prefs.model != library.model_name:
            weights = remembered_weights(self.settings, prefs.model)
            self._stop_scan_now()
            try:
                library.set_weights(weights, prefs.model)
            except PhotosimError:
                library.set_weights(None, prefs.model)
            self.engine_options.update(model=prefs.model, weights=library.weights)
            self.model_error = None
            self.status_text.setText(f"Embedding the library with {prefs.model}…")
            self.start_scan()

    # -- the library's folders ----------------------------------------------------------
    def choose_added_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder to this library", str(Path.home())
        )
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> bool:
        """Add ``folder`` to the open library (or open it) and scan it in."""
        if self.library is None:
            self.open_library(folder)
            return True
        try:
            self.library.add_root(folder)
        except PhotosimError as exc:
            self.status_text.setText(str(exc))
            return False
        self._refresh_folders()
        self._stop_scan_now()
        self.start_scan()
        return True

    def remove_folder(self, folder: str) -> int:
        """Take ``folder`` out of the library: its photos leave the grid, the files stay on disk."""
        library = self.library
        if library is None:
            return 0
        if len(library.roots) < 2:
            self.status_text.setText(
                "A library keeps at least one folder; open another folder instead (Ctrl+O)."
            )
            return 0
        self._stop_scan_now()
        removed = library.remove_root(folder)
        if self.current and paths.is_under(self.current, [folder]):
            self.current = None
            self.preview.show_photo(None)
            self.neighbours.set_matches([])
        self._reload_grid()
        self._refresh_folders()
        self.start_scan()  # rebuilds the search index without them, in the scan's thread
        self.status_text.setText(
            f"{removed:,} photos of {shown(folder)} left the library; the files are untouched."
        )
        return removed

    def _stop_scan_now(self) -> None:
        """Stop the running scan and wait for it, before the library's model or folders change."""
        if hasattr(self, "abandon_scan"):  # the worker-based scan lifecycle
            worker = self.abandon_scan()
            if worker is not None:
                worker.join(30)
        else:
            self.stop_scan(wait=True)

    def _reload_grid(self) -> None:
        reload = getattr(self, "reload_photos", None)  # in a worker, where the window has it
        if reload is not None:
            reload()
        elif self.library is not None:
            self.photos.set_photos(self.library.photos())

    def _refresh_folders(self) -> None:
        """The window title and the Library menu name the folders of the open library."""
        if not hasattr(self, "remove_menu"):
            return
        roots = [str(r) for r in self.library.roots] if self.library is not None else []
        self.remove_menu.clear()
        self.folders_menu.clear()
        for root in roots:
            action = self.remove_menu.addAction(shown(root))
            action.triggered.connect(lambda _=False, r=root: self.remove_folder(r))
            self.folders_menu.addAction(shown(root)).setEnabled(False)
        self.remove_menu.setEnabled(len(roots) > 1)
        self.folders_menu.setEnabled(bool(roots))
        if roots:
            more = f" + {len(roots) - 1} more" if len(roots) > 2 else ""
            names = " + ".join(shown(r) for r in roots[:2]) if len(roots) <= 2 else shown(roots[0])
            self.setWindowTitle(f"photosim: {names}{more}")

    # -- about and the log ------------------------------------------------------------
    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About photosim",
                          about_html(self.library, self.engine_options), parent=self)  # fmt: skip
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        self.about_box = box
        box.open()

    def show_log(self) -> bool:
        """Open the log file in the system's text viewer."""
        log_file = getattr(paths, "log_file", None)
        path = log_file() if log_file else None
        if path is None or not Path(path).is_file():
            self.status_text.setText("There is no log file yet: nothing has been logged.")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # -- queries of several photos, and of pictures without a file ------------------------
    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()})
        return [self.proxy.path_at(r) for r in rows]

    def similar_to_selection(self) -> None:
        """Photos like all the selected ones (their mean vector); the selection is left out."""
        paths_ = self.selected_paths()
        if len(paths_) < 2:
            if paths_:
                self.show_query(paths_[0])
            return
        library = self.library
        self.start_special_query(
            f"{len(paths_)} selected photos", lambda k: library.similar_to_many(paths_, k)
        )

    def query_image(self, image: Image.Image) -> None:
        """Neighbours of a picture held in memory (a browser's drag): nothing is saved."""
        library = self.library
        if library is None:
            self.status_text.setText("Open a folder of photos first, then drop a photo to compare.")
            return
        self.grid.selectionModel().clearCurrentIndex()
        self.preview.show_photo(None)
        self.preview.name.setText("Dropped image")
        self.preview.details.setText("From the drag: compared, not saved or added.")
        self.preview._image = pil_to_qimage(image)
        self.preview._fit()
        self.start_special_query(DROPPED, lambda k: library.similar_to_image(image, k))

    def start_special_query(self, label: str, fn) -> None:
        self.special_query = (label, fn)
        self.current = label
        self._requery_special()

    def _requery_special(self) -> bool:
        """Ask again for a query that is no single photo (k changed, scan done)."""
        if self.special_query is None or self.current != self.special_query[0]:
            return False
        label, fn = self.special_query
        k = self.strip.k_box.value()
        self.query_runner.submit(lambda: (label, fn(k)))
        self.strip.title.setText(f"Similar to <b>{label}</b>: searching…")
        return True

    def accepts_drop(self, mime) -> bool:
        return (
            mime.hasImage() or mime.hasUrls() or any(f.startswith("image/") for f in mime.formats())
        )

    def drop_data(self, mime) -> bool:
        """A drop that is no local file: image data is queried; a bare web address is refused."""
        image = image_from_mime(mime)
        if image is not None:
            self.query_image(image)
            return True
        if mime.hasUrls():
            self.status_text.setText(
                "photosim does not download pictures from the web; drag the picture itself "
                "from the page, or save it and drop the file."
            )
        return False
