from collections import Counter

import numpy as np
import pytest
from pydantic import ValidationError

from workbench.loadtest.workload import Workload, WorkloadSpec


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload(WorkloadSpec(seed=5, zipf_s=1.2, paraphrase_share=0.5, personalized_share=0.1,
                                 session_share=0.05, stream_share=0.25, tenants=("acme", "globex"),
                                 tenant_weights=(3, 1), users_per_tenant=50))


def test_same_seed_same_stream(workload: Workload) -> None:
    a = workload.items(300)
    b = Workload(workload.spec).items(300)
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]
    c = Workload(workload.spec.model_copy(update={"seed": 6})).items(300)
    assert [x.request.question for x in a] != [x.request.question for x in c]


def test_intents_follow_zipf(workload: Workload) -> None:
    items = workload.items(6000)
    shared = [it for it in items if it.kind in ("question", "paraphrase")]
    counts = Counter(it.intent for it in shared)
    p = workload.intent_probabilities
    top = workload.intents[0]
    assert counts[top] / len(shared) == pytest.approx(p[0], abs=4 * np.sqrt(p[0] / len(shared)))
    assert counts.most_common(1)[0][0] == top


def test_shares(workload: Workload) -> None:
    items = workload.items(6000)
    kinds = Counter(it.kind for it in items)
    assert kinds["personalized"] / len(items) == pytest.approx(0.1, abs=0.03)
    assert all(it.request.personalized and it.request.user for it in items if it.kind == "personalized")
    assert kinds["paraphrase"] > 0
    assert sum(it.request.stream for it in items) / len(items) == pytest.approx(0.25, abs=0.03)
    tenants = Counter(it.request.tenant for it in items if it.kind != "personalized")
    assert tenants["acme"] / (tenants["acme"] + tenants["globex"]) == pytest.approx(0.75, abs=0.04)


def test_conversations_keep_order_and_session(workload: Workload) -> None:
    items = workload.items(3000)
    by_session: dict[str, list[int]] = {}
    for it in items:
        if it.request.session:
            assert it.kind == "turn"
            by_session.setdefault(it.request.session, []).append(it.turn)
    assert by_session
    for turns in by_session.values():
        assert turns == list(range(len(turns)))
    assert any(len(t) >= 2 for t in by_session.values())


def test_save_and_load(tmp_path, workload: Workload) -> None:  # type: ignore[no-untyped-def]
    items = workload.items(50)
    path = Workload.save_items(items, tmp_path / "wl.jsonl")
    assert Workload.load_items(path) == items


def test_bad_spec() -> None:
    with pytest.raises(ValidationError):
        WorkloadSpec(personalized_share=0.8, session_share=0.5)
    with pytest.raises(ValidationError):
        WorkloadSpec(tenants=("a", "b"), tenant_weights=(1.0,))
