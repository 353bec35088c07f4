"""values.schema.json against values.yaml, with jsonschema (Draft 7, the draft Helm 3 and 4
both read): the defaults and every good overlay validate; every bad overlay is refused, and
refused for the key it breaks."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.deploy.chart_cases import BAD, GOOD, merged
from tests.deploy.support import CHART, load_yaml


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


@pytest.fixture(scope="module")
def defaults() -> dict:
    return load_yaml(CHART / "values.yaml")


def _errors(schema: dict, values: dict) -> list[jsonschema.ValidationError]:
    return list(jsonschema.Draft7Validator(schema).iter_errors(values))


def test_schema_is_a_valid_draft7_schema(schema: dict) -> None:
    jsonschema.Draft7Validator.check_schema(schema)


def test_values_yaml_validates_against_schema(schema: dict, defaults: dict) -> None:
    assert _errors(schema, defaults) == []


def test_schema_describes_every_default_value(schema: dict, defaults: dict) -> None:
    # additionalProperties: false at the top, so a value added to values.yaml but not to the
    # schema fails above; this also catches schema sections values.yaml no longer has.
    assert set(schema["properties"]) - {"global"} == set(defaults)


@pytest.mark.parametrize("name", GOOD)
def test_good_overlay_validates(schema: dict, defaults: dict, name: str) -> None:
    assert _errors(schema, merged(defaults, GOOD[name])) == []


@pytest.mark.parametrize("name", BAD)
def test_bad_overlay_is_rejected_at_its_key(schema: dict, defaults: dict, name: str) -> None:
    overlay, path = BAD[name]
    errors = _errors(schema, merged(defaults, overlay))
    assert errors, f"{name}: accepted"
    paths = {"/".join(str(p) for p in error.absolute_path) for error in errors}
    assert paths == {path}, f"{name}: refused at {paths}, expected only {path!r}"
