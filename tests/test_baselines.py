"""Baselines learn from train rows and predict unseen ones, per kind; knn votes through a real Chroma index."""

from __future__ import annotations

import random

from incident_lens.pipelines.baselines import MemoEmbedder, make_baseline, targets
from incident_lens.scoring.scores import score_predictions
from incident_lens.inputs.task_files import Label, Task

TOPICS = {
    "fall": ["patient found on the floor beside the bed", "slipped in the bathroom and fell", "unwitnessed fall from chair in the bay",
             "tripped over a walking frame and fell to the ground", "patient fell while walking to the toilet"],
    "medication": ["insulin dose given twice by mistake", "wrong drug dispensed by pharmacy", "enoxaparin dose omitted on the ward",
                   "morphine administered at ten times the prescribed dose", "antibiotic given despite a recorded penicillin allergy"],
    "device": ["infusion pump alarm failed during the night", "defibrillator battery was flat at the cardiac arrest",
               "syringe driver stopped without warning", "the hoist sling tore during a transfer", "ventilator tubing disconnected unnoticed"],
}


def _single_task() -> Task:
    return Task("topic", "single", "Topic.", ("text",), tuple(Label(n, n) for n in TOPICS))


def _rows(seed: int, n_per_topic: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for _ in range(n_per_topic):
            texts.append(f"{rng.choice(phrases)} on ward {rng.randint(1, 30)} at {rng.randint(0, 23)}:00")
            labels.append(label)
    return texts, labels


def test_tfidf_lr_learns_a_single_label_task():
    task = _single_task()
    train_texts, train_labels = _rows(1, 12)
    test_texts, test_labels = _rows(2, 4)
    predicted, confidence = make_baseline("tfidf-lr", task).fit(train_texts, train_labels).predict(test_texts)
    assert score_predictions(task, test_labels, predicted)["accuracy"] == 1.0
    assert all(1 / 3 < c <= 1 for c in confidence)


def test_per_label_models_for_multi_and_findings_with_a_constant_target():
    multi = Task("m", "multi", "d", ("text",), (Label("fall", "f"), Label("device", "d"), Label("never", "n")))
    texts = ["fell from bed", "pump failed", "fell and the pump failed", "fell in bathroom", "pump alarm broke", "nothing happened"] * 3
    labels = [("fall",), ("device",), ("fall", "device"), ("fall",), ("device",), ()] * 3
    model = make_baseline("tfidf-lr", multi).fit(texts, labels)
    # "never" has no positive train row: a constant "no", not a crash.
    assert model.predict(["patient fell again", "the pump failed again"])[0] == [("fall",), ("device",)]

    findings = Task("f", "findings", "d", ("text",), (Label("Effusion", "e"), Label("Edema", "o")))
    texts = ["small left effusion", "no effusion seen", "possible effusion", "clear lungs"] * 4
    labels = [{"Effusion": s, "Edema": "not_mentioned"} for s in ("positive", "negative", "uncertain", "not_mentioned")] * 4
    predicted, _ = make_baseline("tfidf-lr", findings).fit(texts, labels).predict(["small left effusion today", "possible effusion today"])
    assert predicted == [{"Effusion": "positive", "Edema": "not_mentioned"}, {"Effusion": "uncertain", "Edema": "not_mentioned"}]
    assert set(targets(findings, labels)) == {"Effusion", "Edema"}


def test_embed_lr_and_knn_with_the_real_embedder_and_index(embedder, tmp_path):
    embedder = MemoEmbedder(embedder)
    task = _single_task()
    train_texts, train_labels = _rows(3, 8)
    # Paraphrases not in train: the embedding baselines must generalise by meaning.
    test_texts = ["an elderly man was discovered lying on the floor of his room", "the patient received a double dose of heparin",
                  "the infusion device stopped pumping and did not alarm"]
    test_labels = ["fall", "medication", "device"]
    embed_lr = make_baseline("embed-lr", task, embedder=embedder).fit(train_texts, train_labels)
    assert embed_lr.predict(test_texts)[0] == test_labels
    knn = make_baseline("knn", task, embedder=embedder, k=5)
    knn.fit(train_texts, train_labels, ids=[f"t{i}" for i in range(len(train_texts))])
    predicted, confidence = knn.predict(test_texts)
    assert predicted == test_labels
    assert all(0.5 < c <= 1.0 for c in confidence)


def test_labelled_pool_finds_the_nearest_and_leaves_out_the_report_itself(embedder):
    from incident_lens.pipelines.labelled_pool import LabelledPool

    pool = LabelledPool(embedder).add(["a", "b", "c"], ["patient fell out of bed at night", "wrong dose of insulin given",
                                                         "infusion pump alarm failed"], ["fall", "medication", "device"])
    nearest = pool.nearest("an old man slipped and fell from his bed", k=2)
    assert nearest[0][0].id == "a" and nearest[0][1] == "fall"
    assert nearest[0][0].similarity > nearest[1][0].similarity
    without_itself = [n.id for n, _ in pool.nearest("patient fell out of bed at night", k=3, exclude_id="a")]
    assert sorted(without_itself) == ["b", "c"]
