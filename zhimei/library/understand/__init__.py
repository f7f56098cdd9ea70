"""Understanding (智能编目): what is said, written on screen, who appears and what it is about.

The stages live in `zhimei.library.understand_stages`; these modules hold the logic and the public
read/edit functions (people, tags, topics, catalogue) that the API, CLI and pages use.
"""

from zhimei.library.understand.catalogue import (
    asset_entities,
    asset_faces,
    asset_safety,
    asset_tags,
    transcript,
    understanding,
)
from zhimei.library.understand.people import (
    PeopleError,
    PersonNotFound,
    asset_people,
    list_people,
    merge_people,
    name_person,
    person_detail,
    split_faces,
)
from zhimei.library.understand.tags import (
    DEFAULT_TOPICS,
    TagError,
    add_user_tag,
    create_topic,
    delete_topic,
    remove_tag,
    tag_changes,
    topic_dicts,
    update_topic,
)

__all__ = [
    "asset_entities", "asset_faces", "asset_safety", "asset_tags", "transcript", "understanding",
    "PeopleError", "PersonNotFound", "asset_people", "list_people", "merge_people", "name_person", "person_detail",
    "split_faces", "DEFAULT_TOPICS", "TagError", "add_user_tag", "create_topic", "delete_topic", "remove_tag",
    "tag_changes", "topic_dicts", "update_topic",
]
