"""Ranking models kept inside an index: ``<index>/ltr/model-N/`` and which one is active.

Each version is a folder holding the booster in its library's own format (LightGBM's text
model, XGBoost's JSON) and ``meta.json``: the backend, objective, the feature names in column
order, the training data's fingerprint, the dev metrics and when it was trained; a model trained
from the search log also keeps the click statistics its click features read (``clicks.json``). A version is
written under a temporary name and renamed into place, so a crash leaves no half model.
``ltr/active.json`` names the active version and the ones active before it (what ``rollback``
returns to); it is replaced atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhisou.errors import CorruptIndexError, ZhisouError
from zhisou.index.directory import atomic_write_bytes, fsync_directory
from zhisou.rank.clickstats import ClickStats
from zhisou.rank.features import FeatureMatrix

LTR_FOLDER = "ltr"
ACTIVE_FILE = "active.json"
META_FILE = "meta.json"
MODEL_FILES = {"lightgbm": "model.txt", "xgboost": "model.json"}


def backend_module(backend: str) -> Any:
    """The library module of a backend (``lightgbm`` or ``xgboost``), or one line saying how to install it."""
    try:
        if backend == "lightgbm":
            import lightgbm

            return lightgbm
        if backend == "xgboost":
            import xgboost

            return xgboost
    except ImportError as error:
        raise ZhisouError(f"learning to rank with {backend} needs it installed: pip install 'zhisou[rank]'") from error
    raise ZhisouError(f"unknown ranking backend {backend!r}; choose lightgbm or xgboost")


@dataclass
class RankingModel:
    """A trained booster and what it expects."""

    backend: str
    objective: str
    features: tuple[str, ...]
    booster: Any
    meta: dict[str, Any] = field(default_factory=dict)
    version: int | None = None  # set once stored
    clicks: ClickStats | None = None  # the search log's statistics its click features read

    def predict(self, matrix: FeatureMatrix) -> np.ndarray:
        """A score per row: higher ranks first."""
        values = matrix.select(self.features)
        if not len(values):
            return np.zeros(0)
        if self.backend == "lightgbm":
            return np.asarray(self.booster.predict(values, num_threads=1), dtype=np.float64)
        xgboost = backend_module("xgboost")
        return np.asarray(self.booster.predict(xgboost.DMatrix(values, missing=np.nan)), dtype=np.float64)

    def importance(self) -> dict[str, float]:
        """Each feature's total gain in the trees, largest first."""
        if self.backend == "lightgbm":
            gains = self.booster.feature_importance(importance_type="gain")
            found = dict(zip(self.features, (float(g) for g in gains)))
        else:
            raw = self.booster.get_score(importance_type="total_gain")
            found = {
                name: float(raw.get(f"f{number}", raw.get(name, 0.0))) for number, name in enumerate(self.features)
            }
        return dict(sorted(found.items(), key=lambda item: -item[1]))

    def describe(self) -> str:
        name = f"model-{self.version}" if self.version is not None else "an unsaved model"
        return f"{name} ({self.backend} {self.objective})"


class ModelStore:
    """The versions of ranking models stored in one index folder."""

    def __init__(self, index_directory: Path) -> None:
        self.directory = Path(index_directory) / LTR_FOLDER

    def versions(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            name = entry.name
            if name.startswith("model-") and name[6:].isdigit() and (entry / META_FILE).exists():
                found.append(int(name[6:]))
        return sorted(found)

    def path(self, version: int) -> Path:
        return self.directory / f"model-{version}"

    def save(self, model: RankingModel) -> int:
        """Store ``model`` as the next version (not activated); returns its number."""
        self.directory.mkdir(parents=True, exist_ok=True)
        version = max(self.versions(), default=0) + 1
        final = self.path(version)
        temporary = self.directory / f".model-{version}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        model_path = temporary / MODEL_FILES[model.backend]
        model.booster.save_model(str(model_path))
        meta = {
            **model.meta,
            "version": version,
            "backend": model.backend,
            "objective": model.objective,
            "features": list(model.features),
        }
        (temporary / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        written = [model_path, temporary / META_FILE]
        if model.clicks is not None:
            written.append(model.clicks.save(temporary))
        for path in written:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temporary, final)
        fsync_directory(self.directory)
        model.version = version
        model.meta = meta
        return version

    def meta(self, version: int) -> dict[str, Any]:
        path = self.path(version) / META_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ZhisouError(f"{self.directory}: no ranking model {version}; versions: {self._listing()}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CorruptIndexError(f"{path}: not valid JSON ({error}); train the model again") from None
        if not isinstance(data, dict) or data.get("backend") not in MODEL_FILES or not data.get("features"):
            raise CorruptIndexError(f"{path}: not a ranking model's description; train the model again")
        return data

    def load(self, version: int) -> RankingModel:
        meta = self.meta(version)
        backend = meta["backend"]
        module = backend_module(backend)
        model_path = self.path(version) / MODEL_FILES[backend]
        try:
            if backend == "lightgbm":
                booster = module.Booster(model_file=str(model_path))
            else:
                booster = module.Booster()
                booster.load_model(str(model_path))
        except Exception as error:  # the libraries raise their own error types for a bad file
            raise CorruptIndexError(f"{model_path}: cannot be loaded ({error}); train the model again") from None
        clicks = ClickStats.load(self.path(version))
        return RankingModel(backend, str(meta["objective"]), tuple(meta["features"]), booster, meta, version, clicks)

    # -- which version is active ---------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        path = self.directory / ACTIVE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"active": None, "history": []}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CorruptIndexError(f"{path}: not valid JSON; run zhisou ltr activate N to set it again") from None
        return {"active": data.get("active"), "history": list(data.get("history") or [])}

    def _write_state(self, active: int | None, history: list[int]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"active": active, "history": history}, indent=2).encode()
        atomic_write_bytes(self.directory / ACTIVE_FILE, payload)

    def active(self) -> int | None:
        version = self._state()["active"]
        return int(version) if isinstance(version, int) and version in self.versions() else None

    def state_stamp(self) -> tuple[int, int] | None:
        """Changes whenever the active model may have (for a cache of the loaded model)."""
        try:
            stat = (self.directory / ACTIVE_FILE).stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_ino

    def load_active(self) -> RankingModel | None:
        version = self.active()
        return None if version is None else self.load(version)

    def activate(self, version: int) -> None:
        """Make ``version`` the active model (the one before it is remembered for rollback)."""
        if version not in self.versions():
            raise ZhisouError(f"{self.directory}: no ranking model {version}; versions: {self._listing()}")
        state = self._state()
        history = [v for v in state["history"] if isinstance(v, int)]
        if state["active"] is not None and state["active"] != version:
            history.append(int(state["active"]))
        self._write_state(version, history)

    def rollback(self) -> int | None:
        """Return to the model active before the current one (None: no model is then active)."""
        state = self._state()
        if state["active"] is None:
            raise ZhisouError(f"{self.directory}: no ranking model is active; nothing to roll back")
        history = [v for v in state["history"] if isinstance(v, int) and v in self.versions()]
        previous = history.pop() if history else None
        self._write_state(previous, history)
        return previous

    def _listing(self) -> str:
        return ", ".join(map(str, self.versions())) or "none (train one with zhisou ltr train)"
