"""The trained models a proof runs with: what `make run` trained when it is there, else small
ones trained now (real training on the phantoms and on the real risk data set; a minute or two)."""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SAMPLES = 300
TRAIN_EPOCHS = 3


def imaging_bundle_install(model_root: Path, *, name: str = "proof-phantom-cnn") -> Path:
    """A bundle under `model_root`: a copy of PROOF_IMAGING_BUNDLE or of the newest one under
    var/models/imaging (what `make run` trained), else a small one trained now."""
    source = os.environ.get("PROOF_IMAGING_BUNDLE")
    if not source:
        found = sorted(
            (ROOT / "var" / "models" / "imaging").glob("*/*/manifest.json"),
            key=lambda p: p.stat().st_mtime,
        )
        source = str(found[-1].parent) if found else ""
    if source:
        folder = model_root / Path(source).parent.name / Path(source).name
        shutil.copytree(source, folder)
        return folder
    from imaging.ml.training import train_synthetic

    trained = train_synthetic(
        root=model_root, name=name, samples=TRAIN_SAMPLES, epochs=TRAIN_EPOCHS, progress=False
    )
    return Path(trained.folder)


def risk_model_install(model_root: Path, disease: str) -> Path:
    """A `disease` artifact under `model_root`: a copy of the newest one under var/models/risk
    (what `make run` trained), else one trained now."""
    found = sorted((ROOT / "var" / "models" / "risk" / disease).glob("*/manifest.json"))
    if found:
        source = found[-1].parent
        folder = model_root / disease / source.name
        shutil.copytree(source, folder)
        return folder
    from prediction.ml.training import save_trained, train_disease

    return Path(save_trained(train_disease(disease), model_root))
