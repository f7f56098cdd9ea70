"""The library's stage graph. Importing this module registers every built-in library stage.

video/audio: probe → normalize → shots → keyframes (shots/keyframes for video only)
image:       image_meta (EXIF/XMP, pHash near-duplicates, thumbnail)
article:     extract_text (paragraph segments from HTML, Markdown, TXT, DOCX, PDF, NINJS, NewsML-G2)
understanding (all kinds, see understand_stages): asr, ocr, faces, image_safety, entities, tags, embed
search (all kinds, see search_stages): index
"""

from zhimei.library import media_stages, search_stages, text_stages, understand_stages  # noqa: F401  (registration on import)
