"""The trained models a proof runs with: what `make run` trained when it is there, else small
ones trained now (real training on the phantoms and on the real risk data set; a minute or two)."""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MADE_BY_RUN = ROOT / "var" / "models"  # <kind>/<name or disease>/<version>/manifest.json
TRAIN_SAMPLES = 300
TRAIN_EPOCHS = 3


def _copied(source: Path | None, model_root: Path) -> Path | None:
    """A copy of the artifact folder `source` as model_root/<its parent's name>/<its name>."""
    if source is None:
        return None
    folder = model_root / source.parent.name / source.name
    shutil.copytree(source, folder)
    return folder


def _newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def imaging_bundle_install(model_root: Path, *, name: str = "proof-phantom-cnn") -> Path:
    """A bundle under `model_root`: a copy of PROOF_IMAGING_BUNDLE or of the newest one under
    var/models/imaging (what `make run` trained), else a small one trained now."""
    lent = os.environ.get("PROOF_IMAGING_BUNDLE")
    source = Path(lent) if lent else _newest(MADE_BY_RUN / "imaging", "*/*/manifest.json")
    copied = _copied(source, model_root)
    if copied is not None:
        return copied
    from imaging.ml.training import train_synthetic

    trained = train_synthetic(
        root=model_root, name=name, samples=TRAIN_SAMPLES, epochs=TRAIN_EPOCHS, progress=False
    )
    return Path(trained.folder)


def risk_model_install(model_root: Path, disease: str) -> Path:
    """A `disease` artifact under `model_root`: a copy of the newest one under var/models/risk
    (what `make run` trained), else one trained now."""
    copied = _copied(_newest(MADE_BY_RUN / "risk" / disease, "*/manifest.json"), model_root)
    if copied is not None:
        return copied
    from prediction.ml.training import save_trained, train_disease

    return Path(save_trained(train_disease(disease), model_root))
