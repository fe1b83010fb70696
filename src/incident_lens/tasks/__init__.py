"""Built-in task definitions (TOML files beside this one); loaded by `incident_lens.inputs.task_files`."""
