"""Theme keywords by class-based TF-IDF (as BERTopic's c-TF-IDF): each theme's members are one
document; a term scores by its frequency in the theme (normalised by the theme's length) times
log(1 + average theme length / the term's frequency over all themes and the unthemed reports).

Usage: `keywords = theme_keywords(texts, labels, k, top=10)` -> one [(term, score), ...] per theme.
Terms are words and word pairs; the field names a report was indexed under are not terms. English stop words and a short list of words every incident report
uses are dropped, but negations stay inside pairs ("no alarm") and ward and clinical abbreviations
(ICU, AMU, A&E, NG, IV) are kept: they name where and how things happen.
"""

from __future__ import annotations

import re

import numpy as np

# Words that appear in reports of every kind, so say nothing about a theme.
CLINICAL_STOP_WORDS = frozenset("""
pt pts patient patients patient's pt's staff member members noted reported report reports incident incidents datix
approx approximately also would could said told asked time times day days today yesterday currently
""".split())
NEGATIONS = frozenset({"no", "not", "nor", "without"})
# Tokens: letters/digits, joined by & or ' inside (A&E, patient's); pure numbers (times, doses, dates) are dropped.
_TOKEN = re.compile(r"[a-z0-9]+(?:[&'][a-z0-9]+)*")
# A report indexed from several columns has each under its name ("description: ...", "actions: ...").
_LINE_LABEL = re.compile(r"(?m)^([A-Za-z_][\w ]{0,40}):\s")
# A line label counts as a field name when at least this share of the reports have it.
FIELD_LABEL_SHARE = 0.3


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | CLINICAL_STOP_WORDS


def field_labels(texts: list[str]) -> set[str]:
    """The column names the index joined the reports' fields under (line labels most reports share)."""
    from collections import Counter

    seen = Counter(label for text in texts for label in set(_LINE_LABEL.findall(str(text))))
    return {label for label, n in seen.items() if n >= FIELD_LABEL_SHARE * len(texts)}


def analyser(stops: frozenset[str] = frozenset(), labels: set[str] = frozenset()):
    """text -> its terms: words of 2+ characters that are not stop words or numbers, and pairs of
    neighbouring kept words, where a negation may open a pair but is never a term alone. The field
    names in `labels` are removed where they open a line."""
    stops = stops or stop_words()
    label = re.compile(r"(?m)^(?:" + "|".join(re.escape(x) for x in sorted(labels)) + r"):\s") if labels else None

    def terms(text: str) -> list[str]:
        text = label.sub(" ", str(text)) if label is not None else str(text)
        kept = [t for t in _TOKEN.findall(text.lower())
                if not t.isdigit() and (t in NEGATIONS or (len(t) > 1 and t not in stops))]
        words = [t for t in kept if t not in NEGATIONS]
        return words + [f"{a} {b}" for a, b in zip(kept, kept[1:]) if b not in NEGATIONS]

    return terms


def theme_keywords(texts: list[str], labels: np.ndarray, k: int, top: int = 10, min_df: int = 2) -> list[list[tuple[str, float]]]:
    """The `top` c-TF-IDF terms of each of the `k` themes; reports with label -1 form one more class
    (they count towards a term's overall frequency, and get no keywords)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    if not k:
        return []
    counts = CountVectorizer(analyzer=analyser(labels=field_labels(texts)), min_df=min_df)
    matrix = counts.fit_transform(texts)
    classes = np.where(labels >= 0, labels, k)
    import scipy.sparse as sp

    onehot = sp.csr_matrix((np.ones(len(classes)), (classes, np.arange(len(classes)))), shape=(k + 1, len(classes)))
    per_class = onehot @ matrix  # (k+1, terms) counts
    tf = normalize(per_class, norm="l1", axis=1)
    term_freq = np.asarray(per_class.sum(axis=0)).ravel()
    average = float(per_class.sum()) / (k + 1)
    idf = np.log1p(average / np.maximum(term_freq, 1))
    scores = tf.multiply(idf).tocsr()
    vocabulary = counts.get_feature_names_out()
    out = []
    for j in range(k):
        row = scores.getrow(j).toarray().ravel()
        # Ties broken by term, so the list is repeatable.
        best = sorted(np.flatnonzero(row), key=lambda t: (-row[t], vocabulary[t]))[:top]
        out.append([(str(vocabulary[t]), round(float(row[t]), 5)) for t in best])
    return out
