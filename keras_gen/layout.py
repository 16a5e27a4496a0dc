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


def is_complete(folder):
    """True when ``folder`` holds a finished export: ``saved_model.pb`` and ``keras_gen.json``
    (written last). A version folder being written or left by a killed export is not."""
    return (folder / "saved_model.pb").is_file() and (folder / METADATA_FILE).is_file()


def find_export(path):
    """The version folder of an export: ``path`` itself when it holds ``saved_model.pb`` and
    ``keras_gen.json``, or the newest complete integer version inside a model folder
    ``saved_models/<name>/``. Raises ``NotAnExportError`` saying what was expected."""
    path = Path(path)
    if not path.exists():
        raise NotAnExportError(f"{path} does not exist.")
    if path.is_dir() and not (path / "saved_model.pb").exists():
        versions = sorted((int(p.name) for p in path.iterdir() if p.name.isdigit() and is_complete(p)), reverse=True)
        path = path / str(versions[0]) if versions else path
    if not (path.is_dir() and is_complete(path)):
        raise NotAnExportError(
            f"{path} is not a keras_gen export: expected a folder saved_models/<name>/<version>/ holding "
            f"saved_model.pb and {METADATA_FILE} (written by keras_gen.export.export_model), or saved_models/<name>/ "
            "holding such version folders."
        )
    return path


def read_metadata(folder):
    """The parsed ``keras_gen.json`` of a version folder; ``NotAnExportError`` naming the file
    when it cannot be read or is not a JSON object."""
    path = Path(folder) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise NotAnExportError(f"{path} cannot be read as keras_gen export metadata ({err}); the export is "
                               "damaged: export the model again.") from None
    if not isinstance(metadata, dict) or "signatures" not in metadata:
        raise NotAnExportError(f"{path} is not keras_gen export metadata (no 'signatures'); the export is damaged: "
                               "export the model again.")
    return metadata


def list_exports(base_dir="saved_models"):
    """``[(name, version, metadata), ...]`` of every complete export under ``base_dir``,
    sorted. An export whose ``keras_gen.json`` is damaged is listed too, with metadata
    ``{"error": message}``, so one broken export does not hide the others."""
    found = []
    for folder in sorted(Path(base_dir).glob("*/*")):
        if folder.name.isdigit() and is_complete(folder):
            try:
                metadata = read_metadata(folder)
            except NotAnExportError as err:
                metadata = {"error": str(err)}
            found.append((folder.parent.name, int(folder.name), metadata))
    return sorted(found, key=lambda item: (item[0], item[1]))
