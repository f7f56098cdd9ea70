"""Background tasks of distribution (deliveries, scheduled publishing, event roll-ups, retrains).

Listed in the ``stage_modules`` setting; binding each task module by name makes the workers load its tasks.
"""

from __future__ import annotations

from zhimei.distribute.engagement import tasks as engagement_tasks
from zhimei.distribute.publish import tasks as publish_tasks
from zhimei.distribute.recommend import tasks as recommend_tasks

__all__ = ["engagement_tasks", "publish_tasks", "recommend_tasks"]
