"""Themes and emerging signals over an index's stored embeddings: fitting (PCA + HDBSCAN), keywords
(class-based TF-IDF), representative reports, the saved theme model with stable ids, the emerging test,
and the reports people read. The job that composes them is `incident_lens.pipelines.themes`.
"""
