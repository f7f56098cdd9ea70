"""Each area re-exports its public functions through an explicit __all__ (httpx style)."""

import importlib

import pytest

PACKAGES = ["zhimei.store", "zhimei.store.files", "zhimei.jobs", "zhimei.library", "zhimei.settings",
            "zhimei.store.tokens", "zhimei.library.catalog", "zhimei.library.assets", "zhimei.studio",
            "zhimei.studio.media",
            "zhimei.review.proofread", "zhimei.models.zh_speller", "zhimei.review.queue", "zhimei.review.labels",
            "zhimei.review.evidence",
            "zhimei.distribute.publish", "zhimei.distribute.engagement", "zhimei.distribute.recommend",
            "zhimei.insight",
            "zhimei.desk", "zhimei.workflow"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name):
    mod = importlib.import_module(name)
    assert mod.__all__, f"{name} has an empty __all__"
    for attr in mod.__all__:
        assert hasattr(mod, attr), f"{name}.__all__ names {attr!r}, which does not exist"
        assert not attr.startswith("_") or attr == "__version__"


def test_stage_registry_refuses_duplicates_and_cycles():
    from zhimei.jobs.stages import Stage, StageRegistry

    reg = StageRegistry()
    reg.register(Stage("a", lambda ctx: None, frozenset({"video"}), after=("b",)))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Stage("a", lambda ctx: None, frozenset({"video"})))
    reg.register(Stage("b", lambda ctx: None, frozenset({"video"}), after=("a",)))
    with pytest.raises(ValueError, match="cycle"):
        reg.graph_for("video")
