"""Tasks are declared in files, not coded: loading, validating and finding them.

A task file (TOML or YAML) gives `name`, `kind` (single | multi | findings), `description`,
`input_fields`, optional `label_column`, and `labels`, each with `name` and `definition`.
Usage: `task = find_task("harm", workspace)`; `list_tasks(workspace)`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.workspace import Workspace

KINDS = ("single", "multi", "findings")
# Statuses of one finding in a `findings` task, in the order a reader scans for them.
TASK_SUFFIXES = (".toml", ".yaml", ".yml")


@dataclass(frozen=True)
class Label:
    name: str
    definition: str


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    description: str
    input_fields: tuple[str, ...]
    labels: tuple[Label, ...]
    label_column: str | None = None
    source: Path | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def definition(self, name: str) -> str:
        return next(label.definition for label in self.labels if label.name == name)


def _require(data: dict, key: str, kind: type, where: Path, prefix: str = ""):
    if key not in data:
        raise UserError(f"{where}: key '{prefix}{key}' is missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, (str, list)) and not value):
        raise UserError(f"{where}: key '{prefix}{key}' must be a non-empty {kind.__name__}")
    return value


def parse_task(data: dict, where: Path) -> Task:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a task file must be a table of keys (name, kind, description, input_fields, labels)")
    known = {"name", "kind", "description", "input_fields", "labels", "label_column"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"{where}: unknown key '{unknown[0]}'; known keys: {', '.join(sorted(known))}")
    name = _require(data, "name", str, where).strip()
    kind = _require(data, "kind", str, where)
    if kind not in KINDS:
        raise UserError(f"{where}: key 'kind' is '{kind}'; use one of {', '.join(KINDS)}")
    description = _require(data, "description", str, where).strip()
    input_fields = _require(data, "input_fields", list, where)
    if not all(isinstance(f, str) and f.strip() for f in input_fields):
        raise UserError(f"{where}: key 'input_fields' must list column names as strings")
    label_column = data.get("label_column")
    if label_column is not None and not isinstance(label_column, str):
        raise UserError(f"{where}: key 'label_column' must be a string")
    labels = []
    for i, entry in enumerate(_require(data, "labels", list, where)):
        if not isinstance(entry, dict):
            raise UserError(f"{where}: key 'labels[{i}]' must be a table with name and definition")
        extra = sorted(set(entry) - {"name", "definition"})
        if extra:
            raise UserError(f"{where}: unknown key 'labels[{i}].{extra[0]}'; a label has only name and definition")
        labels.append(Label(_require(entry, "name", str, where, f"labels[{i}].").strip(),
                            " ".join(_require(entry, "definition", str, where, f"labels[{i}].").split())))
    names = [label.name for label in labels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{where}: key 'labels' names '{duplicates[0]}' more than once")
    if kind == "multi" and any(";" in n for n in names):
        raise UserError(f"{where}: key 'labels' has a name with ';', which separates labels in multi-label files")
    return Task(name, kind, " ".join(description.split()), tuple(input_fields), tuple(labels), label_column)


def load_task_file(path: Path) -> Task:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: task file not found")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"{path}: cannot be parsed ({first})") from None
    task = parse_task(data, path)
    return Task(**{**task.__dict__, "source": path, "sha256": file_sha256(path)})


def builtin_task_files() -> list[Path]:
    folder = resources.files("incident_lens.tasks")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(TASK_SUFFIXES))


def task_files(workspace: Workspace | None = None) -> list[Path]:
    """Built-in tasks, then the user's in `<workspace>/tasks/` (which may override a built-in name)."""
    files = builtin_task_files()
    if workspace is not None and workspace.tasks_dir.is_dir():
        files += sorted(p for p in workspace.tasks_dir.iterdir() if p.suffix in TASK_SUFFIXES)
    return files


def list_tasks(workspace: Workspace | None = None) -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for path in task_files(workspace):
        task = load_task_file(path)
        tasks[task.name] = task
    return tasks


def find_task(name_or_path: str, workspace: Workspace | None = None) -> Task:
    """A task by name, or by the path of its file."""
    candidate = Path(name_or_path)
    if candidate.suffix in TASK_SUFFIXES:
        return load_task_file(candidate)
    tasks = list_tasks(workspace)
    if name_or_path not in tasks:
        raise UserError(f"unknown task '{name_or_path}'; known tasks: {', '.join(sorted(tasks))} (or give the path of a task file)")
    return tasks[name_or_path]
