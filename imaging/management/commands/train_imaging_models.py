"""`manage.py train_imaging_models`: train an imaging bundle (the synthetic demo model, or a
classifier on a hospital's MedMNIST file, class folders or labelled DICOM), save it under
IMAGING_MODEL_ROOT/<name>/<version>/, register it and (unless told not to) activate it."""

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from healthmentor.artifacts import ArtifactIntegrityError

if TYPE_CHECKING:  # TensorFlow loads only when a training starts, not for --help
    from imaging.ml.training import TrainedBundle

SOURCES = ("synthetic", "medmnist", "folders", "dicom")


class _Stream:
    """The command's stderr as a plain text stream (OutputWrapper appends newlines), so that
    progress bars can redraw a line with a carriage return."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return bool(self._wrapper.isatty())


def _name_for(path: Path) -> str:
    """A model name from a data path: lower-case letters, digits, '.', '_' and '-'."""
    stem = path.stem if path.is_file() else path.name
    name = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")
    return (name or "hospital")[:50] + "-cnn"


class Command(BaseCommand):
    help = (
        "Train an imaging bundle and register it. --source synthetic (default) trains the demo "
        "classifier + U-Net on seeded phantoms; medmnist / folders / dicom train a classifier on "
        "your labelled images (optionally --fine-tune an existing bundle)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", choices=SOURCES, default="synthetic")
        parser.add_argument(
            "--path",
            type=Path,
            help="The .npz (medmnist), the class folders' parent (folders) "
            "or the DICOM folder (dicom).",
        )
        parser.add_argument(
            "--labels", type=Path, help="dicom: CSV with columns file,label[,split]."
        )
        parser.add_argument(
            "--class-names", help="Comma-separated class names, in label order (medmnist, dicom)."
        )
        parser.add_argument(
            "--normal-class",
            help="The class meaning 'no finding' (default: 'normal' if present, else the first).",
        )
        parser.add_argument(
            "--fine-tune",
            metavar="VERSION_OR_FOLDER",
            help="Start from a registered version (its version string, or name/version) or a "
            "bundle folder.",
        )
        parser.add_argument(
            "--samples",
            type=int,
            help="synthetic: phantoms to generate (default 3000); medmnist: at most this many "
            "images per split.",
        )
        parser.add_argument(
            "--epochs", type=int, help="Training epochs (default 5 synthetic, 10 otherwise)."
        )
        parser.add_argument("--seed", type=int, help="Random seed (default: the training's).")
        parser.add_argument("--name", help="Model name (default chest-phantom-cnn / from --path).")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when an active registered model exists and its files verify.",
        )
        parser.add_argument(
            "--no-activate",
            action="store_true",
            help="Register the new version without activating it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from imaging.loading import imaging_model_folder
        from imaging.ml.serving import ImagingBundle
        from imaging.selectors import imaging_model_active

        if options["if_missing"]:
            active = imaging_model_active()
            if active is not None:
                try:
                    ImagingBundle.load(
                        imaging_model_folder(active), expected_files=dict(active.files)
                    )
                except ArtifactIntegrityError as error:
                    self.stderr.write(f"The active model {active} fails its check: {error}")
                else:
                    self.stdout.write(f"Active imaging model {active} verifies: nothing to train.")
                    return
        started = time.monotonic()
        trained = self._train(options)
        from imaging.services import imaging_model_register

        version = imaging_model_register(folder=trained.folder, activate=not options["no_activate"])
        self._summary(version, trained.folder, time.monotonic() - started)

    def _base(self, value: str | None) -> Path | None:
        """The bundle folder a --fine-tune value names, after its files verified."""
        if not value:
            return None
        from imaging.loading import imaging_model_folder
        from imaging.ml.serving import ImagingBundle
        from imaging.models import ImagingModelVersion

        if Path(value).is_dir():
            return Path(value)
        name, _, version = value.rpartition("/")
        matches = ImagingModelVersion.objects.filter(version=version)
        if name:
            matches = matches.filter(name=name)
        found = list(matches[:2])
        if len(found) != 1:
            raise CommandError(
                f"--fine-tune {value}: "
                + (
                    "no such folder or registered version."
                    if not found
                    else "several models have this version; write name/version."
                )
            )
        folder = imaging_model_folder(found[0])
        try:
            ImagingBundle.load(folder, expected_files=dict(found[0].files))
        except ArtifactIntegrityError as error:
            raise CommandError(str(error)) from None
        return folder

    def _train(self, options: dict[str, Any]) -> "TrainedBundle":
        from imaging.ml import datasets
        from imaging.ml.training import DEFAULT_SEED, DEMO_NAME, train_labelled, train_synthetic

        source, path = options["source"], options["path"]
        root = Path(str(settings.IMAGING_MODEL_ROOT))
        base = self._base(options["fine_tune"])
        common: dict[str, Any] = {"root": root, "base": base, "stream": _Stream(self.stderr)}
        for key in ("epochs", "seed"):
            if options[key] is not None:
                common[key] = options[key]
        classes = (
            [c.strip() for c in options["class_names"].split(",")]
            if options["class_names"]
            else None
        )
        try:
            if source == "synthetic":
                if options["samples"] is not None:
                    common["samples"] = options["samples"]
                return train_synthetic(name=options["name"] or DEMO_NAME, **common)
            if path is None:
                raise CommandError(f"--source {source} needs --path.")
            if options["samples"] is not None and source != "medmnist":
                raise CommandError("--samples applies to --source synthetic and medmnist only.")
            seed = DEFAULT_SEED if options["seed"] is None else options["seed"]
            if source == "medmnist":
                data = datasets.medmnist_load(
                    path, class_names=classes, limit=options["samples"], seed=seed
                )
            elif source == "folders":
                data = datasets.folders_load(path, seed=seed)
            else:
                if options["labels"] is None:
                    raise CommandError("--source dicom needs --labels (a CSV: file,label).")
                data = datasets.dicom_load(path, options["labels"], class_names=classes, seed=seed)
            self.stderr.write(f"Loaded {data.description}: {data.counts()['total']} images.")
            return train_labelled(
                data,
                name=options["name"] or _name_for(path),
                normal_class=options["normal_class"],
                **common,
            )
        except (ValueError, OSError, ArtifactIntegrityError) as error:
            raise CommandError(str(error)) from error

    def _summary(self, version: Any, folder: Path, seconds: float) -> None:
        metrics = version.manifest.get("metrics") or {}
        classifier = metrics.get("classifier") or {}

        def figure(value: Any) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        per_class = ", ".join(
            f"{name} {figure(value)}"
            for name, value in classifier.get("auroc_per_class", {}).items()
        )
        lines = [
            f"{version.name} {version.version} ({'active' if version.is_active else 'not active'})",
            f"  folder: {folder}",
            f"  seconds: {seconds:.1f}",
            f"  test images: {classifier.get('n_test')}; macro AUROC "
            f"{figure(classifier.get('macro_auroc'))} ({per_class}); accuracy "
            f"{figure(classifier.get('accuracy'))}",
        ]
        segmenter = metrics.get("segmenter")
        if segmenter:
            lines.append(
                f"  lesion masks: Dice {figure(segmenter.get('dice'))}, IoU "
                f"{figure(segmenter.get('iou'))} on {segmenter.get('n_test')} lesion images"
                + (" (carried over from the base)" if segmenter.get("carried_over_from") else "")
            )
        heatmap = metrics.get("heatmap")
        if heatmap:
            lines.append(
                f"  heatmaps: pointing game {figure(heatmap.get('pointing_game'))} on "
                f"{heatmap.get('n_test')} lesion images"
            )
        if version.manifest.get("card_warning"):
            lines.append(f"  {version.manifest['card_warning']}")
        for line in lines:
            self.stdout.write(line)
