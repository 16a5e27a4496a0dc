"""The folder layout of exports, read without TensorFlow: ``<base_dir>/<name>/<version>/``
(TF-Serving's) holding ``saved_model.pb`` and ``keras_gen.json``, which says what the
export is. ``keras_gen.export`` writes it; ``keras_gen.serving`` and ``keras-gen list``
read it.
"""

import json
from pathlib import Path

from keras_gen.errors import NotAnExportError

METADATA_FILE = "keras_gen.json"


def next_version(model_dir):
    """1 + the largest integer version folder in ``model_dir`` (1 when there is none)."""
    model_dir = Path(model_dir)
    versions = ([int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
                if model_dir.is_dir() else [])
    return max(versions, default=0) + 1


def find_export(path):
    """The version folder of an export: ``path`` itself when it holds ``saved_model.pb`` and
    ``keras_gen.json``, or the newest integer version inside a model folder
    ``saved_models/<name>/``. Raises ``NotAnExportError`` saying what was expected."""
    path = Path(path)
    if not path.exists():
        raise NotAnExportError(f"{path} does not exist.")
    if path.is_dir() and not (path / "saved_model.pb").exists() and next_version(path) > 1:
        path = path / str(next_version(path) - 1)
    if not (path.is_dir() and (path / "saved_model.pb").exists() and (path / METADATA_FILE).exists()):
        raise NotAnExportError(
            f"{path} is not a keras_gen export: expected a folder saved_models/<name>/<version>/ holding "
            f"saved_model.pb and {METADATA_FILE} (written by keras_gen.export.export_model), or saved_models/<name>/ "
            "holding such version folders."
        )
    return path


def list_exports(base_dir="saved_models"):
    """``[(name, version, metadata), ...]`` of every export under ``base_dir``, sorted."""
    found = []
    for metadata_file in sorted(Path(base_dir).glob(f"*/*/{METADATA_FILE}")):
        folder = metadata_file.parent
        if folder.name.isdigit() and (folder / "saved_model.pb").exists():
            found.append((folder.parent.name, int(folder.name), json.loads(metadata_file.read_text())))
    return sorted(found, key=lambda item: (item[0], item[1]))
