"""The jobs: indexing, labelling, summarising, evaluating, optimising, the demo and the doctor.

Each composes the libraries (`programs`, `retrieval`) with the inputs and the LM engines and records a run
manifest; the CLI calls them and prints.
"""
