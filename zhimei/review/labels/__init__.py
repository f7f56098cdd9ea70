"""AIGC labels and provenance (issue 6 item 4): explicit and implicit (GB 45438-2025) labels, C2PA manifests,
inbound label reading. See service.py for what is kept in ``Asset.meta["provenance"]``."""

from zhimei.review.labels.aigc import AIGC_FIELDS, LABEL_MEANINGS, AigcLabel, LabelError, parse_aigc_json
from zhimei.review.labels.c2pa_manifest import C2paConfig, c2pa_config, make_dev_chain, read_c2pa, sign_c2pa
from zhimei.review.labels.explicit import label_audio, label_image, label_text, label_video, render_label
from zhimei.review.labels.implicit import Finding, detect_format, read_aigc, write_aigc
from zhimei.review.labels.read import read_inbound_labels
from zhimei.review.labels.service import (
    AssetNotFound,
    add_propagator,
    default_producer,
    label_asset,
    provenance_of,
    record_inbound,
)

__all__ = ["AIGC_FIELDS", "LABEL_MEANINGS", "AigcLabel", "LabelError", "parse_aigc_json", "C2paConfig",
           "c2pa_config", "make_dev_chain", "read_c2pa", "sign_c2pa", "label_audio", "label_image", "label_text",
           "label_video", "render_label", "Finding", "detect_format", "read_aigc", "write_aigc",
           "read_inbound_labels", "AssetNotFound", "add_propagator", "default_producer", "label_asset",
           "provenance_of", "record_inbound"]
