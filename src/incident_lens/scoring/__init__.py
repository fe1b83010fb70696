"""Scoring predictions against gold labels, and the evaluation report (metrics.json, predictions, plots, report.md)."""
