"""A small three-label task file shared by the evaluation and optimisation tests."""

TASK = """
name = "topic"
kind = "single"
description = "What the incident was about."
input_fields = ["description"]
label_column = "topic"
[[labels]]
name = "fall"
definition = "A fall."
[[labels]]
name = "medication"
definition = "A medication error."
[[labels]]
name = "device"
definition = "A device failure."
"""
