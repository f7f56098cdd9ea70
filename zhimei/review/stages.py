"""The review area's pipeline stages, registered on import (listed in the `stage_modules` setting after the
library's): `provenance` reads inbound AIGC labels and C2PA manifests; `review` moderates the asset and opens its
review case once everything moderation reads is known."""

from zhimei.review.labels import stages as provenance_stages  # noqa: F401  (registration on import)
from zhimei.review.queue import stage as review_stages  # noqa: F401  (after the library's stages)

__all__ = ["provenance_stages", "review_stages"]
