"""Students: fast classifiers trained on gold and pseudo-labels (`incident-lens distil`), saved as a folder.

Usage:
    student = make_student("tfidf-lr", task, settings).fit(texts, labels, weights)
    labels, confidence = student.predict(texts); student.probabilities(texts)  # per target: (classes, P)
    save_student(student, Path("students/harm"), meta); student, meta = load_student(Path("students/harm"), task, settings)
Kinds: `tfidf-lr` and `embed-lr` (the baselines of pipelines/baselines.py, with sample weights) and
`encoder` (a sentence-transformers model fine-tuned end to end with a classification head, on CPU).
`training_data` assembles the rows a student learns from.
"""

from incident_lens.students.store import STUDENT_KINDS, is_student_dir, load_student, make_student, read_meta, save_student

__all__ = ["STUDENT_KINDS", "is_student_dir", "load_student", "make_student", "read_meta", "save_student"]
