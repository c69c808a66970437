#!/usr/bin/env python3
"""Check that every role's defaults/main.yml and meta/argument_specs.yml agree.

For each role under roles/:
  - every variable in defaults/main.yml is an option of the role's argument spec, with the
    same default;
  - every spec option that has a default is in defaults/main.yml;
  - a role with defaults has an argument spec.

Usage: check_argument_specs.py [COLLECTION_ROOT]   (default: the checkout this file is in)
Prints one line per disagreement and exits 1 if there is any, 0 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

_MISSING = object()


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def spec_options(spec: Any) -> dict[str, dict]:
    """All options of all entry points, by name (the first entry point naming one wins)."""
    options: dict[str, dict] = {}
    entry_points = (spec or {}).get("argument_specs") or {}
    for entry in entry_points.values():
        for name, option in ((entry or {}).get("options") or {}).items():
            options.setdefault(name, option or {})
    return options


def check_role(role: Path) -> list[str]:
    """Return the disagreements of one role, each as a line naming the role and the variable."""
    defaults_path = role / "defaults" / "main.yml"
    spec_path = role / "meta" / "argument_specs.yml"
    defaults = _load(defaults_path) if defaults_path.is_file() else None
    defaults = defaults or {}
    problems: list[str] = []
    if not spec_path.is_file():
        if defaults:
            problems.append(f"{role.name}: has defaults but no meta/argument_specs.yml")
        return problems
    if not isinstance(defaults, dict):
        return [f"{role.name}: defaults/main.yml is not a mapping of variables"]

    options = spec_options(_load(spec_path))
    for name, value in defaults.items():
        option = options.get(name)
        if option is None:
            problems.append(f"{role.name}: {name} is in defaults/main.yml but not in the argument spec")
            continue
        spec_default = option.get("default", _MISSING)
        if spec_default is _MISSING:
            problems.append(f"{role.name}: {name} has default {value!r} in defaults/main.yml "
                            "but none in the argument spec")
        elif spec_default != value or type(spec_default) is not type(value):
            problems.append(f"{role.name}: {name} defaults to {value!r} in defaults/main.yml "
                            f"but to {spec_default!r} in the argument spec")
    for name, option in options.items():
        if "default" in option and name not in defaults:
            problems.append(f"{role.name}: {name} has default {option['default']!r} in the argument spec "
                            "but is not in defaults/main.yml")
    return problems


def check_collection(root: Path) -> list[str]:
    problems: list[str] = []
    for role in sorted(p for p in (root / "roles").iterdir() if p.is_dir()):
        problems.extend(check_role(role))
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    problems = check_collection(root)
    for line in problems:
        print(line)
    roles = sum(1 for p in (root / "roles").iterdir() if p.is_dir())
    print(f"argument specs: {roles} roles checked, {len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
