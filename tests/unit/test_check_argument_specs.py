"""Tests of tests/check_argument_specs.py: defaults and argument specs must agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("check_argument_specs", ROOT / "tests" / "check_argument_specs.py")
check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(check)


def make_role(root: Path, name: str, defaults: dict | None, options: dict | None) -> Path:
    role = root / "roles" / name
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    if defaults is not None:
        (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    if options is not None:
        spec = {"argument_specs": {"main": {"short_description": name, "options": options}}}
        (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    return role


def test_matching_defaults_and_spec_pass(tmp_path: Path) -> None:
    make_role(tmp_path, "good", {"good_port": 25, "good_names": []},
              {"good_port": {"type": "int", "default": 25}, "good_names": {"type": "list", "default": []},
               "webmail_domain": {"type": "str", "required": True}})
    assert check.check_collection(tmp_path) == []


def test_default_missing_from_spec_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {"r_port": 25, "r_extra": "x"}, {"r_port": {"type": "int", "default": 25}})
    assert check.check_collection(tmp_path) == ["r: r_extra is in defaults/main.yml but not in the argument spec"]


def test_different_default_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {"r_port": 25}, {"r_port": {"type": "int", "default": 587}})
    assert check.check_collection(tmp_path) == [
        "r: r_port defaults to 25 in defaults/main.yml but to 587 in the argument spec"]


def test_default_of_another_type_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {"r_flag": 1}, {"r_flag": {"type": "bool", "default": True}})
    assert len(check.check_collection(tmp_path)) == 1


def test_spec_without_default_for_a_default_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {"r_port": 25}, {"r_port": {"type": "int"}})
    assert check.check_collection(tmp_path) == [
        "r: r_port has default 25 in defaults/main.yml but none in the argument spec"]


def test_spec_default_missing_from_defaults_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {}, {"r_port": {"type": "int", "default": 25}})
    assert check.check_collection(tmp_path) == [
        "r: r_port has default 25 in the argument spec but is not in defaults/main.yml"]


def test_role_with_defaults_and_no_spec_is_reported(tmp_path: Path) -> None:
    make_role(tmp_path, "r", {"r_port": 25}, None)
    assert check.check_collection(tmp_path) == ["r: has defaults but no meta/argument_specs.yml"]


def test_options_of_other_entry_points_count(tmp_path: Path) -> None:
    role = make_role(tmp_path, "r", {"r_port": 25}, None)
    spec = {"argument_specs": {"main": {"options": {}},
                               "switchover": {"options": {"r_port": {"type": "int", "default": 25}}}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    assert check.check_collection(tmp_path) == []


def test_main_exits_nonzero_on_disagreement(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_role(tmp_path, "r", {"r_port": 25}, {"r_port": {"type": "int", "default": 587}})
    assert check.main(["check_argument_specs.py", str(tmp_path)]) == 1
    assert "1 disagreement" in capsys.readouterr().out


def test_collection_roles_agree_with_their_specs() -> None:
    assert check.check_collection(ROOT) == []
