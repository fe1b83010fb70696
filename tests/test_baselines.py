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


# Effusion reports with a cue word, "mimics" with the same shadowing words and no cue, and other reports.
# At C = 1 the many shared words outweigh the single cue and mimics are read as positive: C = 1 under-fits.
SHADOWING = "left lower zone shadowing blunting of the costophrenic angle with basal opacity".split()
CLEAR = "heart size normal lungs clear no focal consolidation mediastinum unremarkable bones intact".split()


def _effusion_rows(seed: int, n: int) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        kind = i % 4  # 0, 1: effusion; 2: mimic; 3: clear
        shadowing = set(rng.sample(SHADOWING, 8))
        words = [w for w in SHADOWING if w in shadowing] + ([rng.choice(["effusion", "fluid"])] if kind < 2 else [])
        texts.append(" ".join(rng.sample(CLEAR, 6) if kind == 3 else words))
        labels.append({"Effusion": "positive" if kind < 2 else "not_mentioned"})
    return texts, labels


def test_c_and_class_weights_are_chosen_by_cross_validation_on_train(monkeypatch):
    import incident_lens.pipelines.baselines as baselines

    task = Task("cxr", "findings", "d", ("text",), (Label("Effusion", "e"),))
    train_texts, train_labels = _effusion_rows(0, 120)
    test_texts, test_labels = _effusion_rows(100, 200)
    model = make_baseline("tfidf-lr", task, seed=13).fit(train_texts, train_labels)
    chosen = model.tuning()["targets"]["Effusion"]
    assert chosen["C"] > 1 and chosen["folds"] == 3
    assert chosen["cv_macro_f1"] >= chosen["cv_scores"]["C=1, class_weight=balanced"] + 0.1
    assert len(chosen["cv_scores"]) == 8
    tuned = score_predictions(task, test_labels, model.predict(test_texts)[0])["macro_f1"]

    # The same baseline held to the old fixed setting does visibly worse on unseen reports.
    monkeypatch.setattr(baselines, "C_GRID", (1.0,))
    monkeypatch.setattr(baselines, "CLASS_WEIGHTS", ("balanced",))
    fixed = make_baseline("tfidf-lr", task, seed=13).fit(train_texts, train_labels)
    assert fixed.tuning()["targets"]["Effusion"]["C"] == 1.0
    assert tuned >= score_predictions(task, test_labels, fixed.predict(test_texts)[0])["macro_f1"] + 0.05


def test_a_class_with_one_train_row_keeps_the_defaults_with_a_note():
    task = _single_task()
    texts, labels = _rows(4, 6)
    texts, labels = texts[:13], labels[:13]  # 6 falls, 6 medication, 1 device
    model = make_baseline("tfidf-lr", task).fit(texts, labels)
    chosen = model.tuning()["targets"]["label"]
    assert chosen["C"] == 1.0 and chosen["class_weight"] == "balanced"
    assert chosen["note"] == "class 'device' has 1 train row: not cross-validated, defaults used"

    multi = Task("m", "multi", "d", ("text",), (Label("fall", "f"), Label("never", "n")))
    tuning = make_baseline("tfidf-lr", multi).fit(["fell", "fell again", "pump", "pump broke"],
                                                  [("fall",), ("fall",), (), ()]).tuning()["targets"]
    assert tuning["never"] == {"note": "one class in train ('no'): predicted as a constant"}
    assert tuning["fall"]["folds"] == 2
