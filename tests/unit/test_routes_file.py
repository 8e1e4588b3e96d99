"""The routes file is validated on load, with errors that name the file, field and problem."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dynamic_model_router.routes_file import (
    DEFAULT_ROUTES_FILE,
    SCHEMA_FILE,
    RoutesError,
    check_served,
    json_schema,
    load_routes,
    parse_routes,
)


def minimal(**overrides: object) -> dict:
    data: dict = {
        "virtual_model": "auto",
        "default_model": "phi2",
        "routes": [{"name": "doctor", "model": "doctor", "utterances": ["I have a fever"]}],
    }
    data.update(overrides)
    return data


def test_default_routes_file_loads_with_doctor_dcot_and_base_model_targets():
    config = load_routes()
    assert config.virtual_model == "auto"
    assert config.default_model == "phi2"
    assert config.models == {"phi2", "doctor", "dcot"}
    for route in config.routes:
        assert len(route.utterances) >= 20, f"route {route.name} has too few utterances to be useful"


def test_minimal_routes_get_documented_defaults():
    config = parse_routes(minimal())
    assert (config.threshold, config.top_k, config.aggregation, config.max_chars) == (0.3, 5, "sum", 2000)
    assert config.encoder.path is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("just text", "top level: must be a mapping"),
        (minimal(routes=[]), "routes: must be a non-empty list"),
        (minimal(virtual_model=""), "virtual_model: must be a non-empty string"),
        (minimal(threshold=-1), "threshold: must be >= 0, got int -1"),
        (minimal(threshold="high"), "threshold: must be a number, got str 'high'"),
        (minimal(threshold=None), "threshold: must be a number"),
        (minimal(top_k=0), "top_k: must be >= 1, got int 0"),
        (minimal(aggregation="median"), "aggregation: must be one of mean, max or sum"),
        (
            minimal(colour="blue"),
            "colour: unknown field; allowed: virtual_model, default_model, routes, encoder",
        ),
        (minimal(encoder={"sha256": "abc"}), "encoder.sha256: must be 64 lowercase hex digits"),
        (minimal(encoder={"threads": 0}), "encoder.threads: must be >= 1, got int 0"),
        (minimal(routes=[{"model": "doctor", "utterances": ["x"]}]), "routes[0].name: is required"),
        (minimal(routes=[{"name": "d", "utterances": ["x"]}]), "routes[0] (d).model: is required"),
        (
            minimal(routes=[{"name": "d", "model": "doctor"}]),
            "routes[0] (d).utterances: is required",
        ),
        (
            minimal(routes=[{"name": "d", "model": "doctor", "utterances": ["ok", 3]}]),
            "routes[0] (d).utterances[1]: must be a non-empty string, got int 3",
        ),
        (
            minimal(routes=[{"name": "d", "model": "doctor", "utterance": ["x"]}]),
            "routes[0] (d).utterance: unknown field; allowed: name, model, utterances",
        ),
        (
            minimal(routes=[{"name": "d", "model": "m", "utterances": ["x"], "threshold": -0.1}]),
            "routes[0] (d).threshold: must be >= 0",
        ),
        (
            minimal(routes=[{"name": "d", "model": "m", "utterances": ["x"]}] * 2),
            "routes: duplicate route name(s) 'd'",
        ),
        (
            minimal(routes=[{"name": "d", "model": "auto", "utterances": ["x"]}]),
            "virtual_model 'auto' is also a route target",
        ),
    ],
)
def test_invalid_routes_are_rejected_with_the_field_and_problem(data: object, expected: str):
    with pytest.raises(RoutesError) as error:
        parse_routes(data, "my-routes.yaml")
    message = str(error.value)
    assert message.startswith("my-routes.yaml: "), f"error does not name the file: {message}"
    assert expected in message, f"expected {expected!r} in {message!r}"


def test_unparsable_yaml_names_the_file(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text("routes: [\n  - name: doctor\n", encoding="utf-8")
    with pytest.raises(RoutesError, match=rf"^{path}: not valid YAML"):
        load_routes(path)


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(RoutesError, match="cannot read the routes file"):
        load_routes(tmp_path / "absent.yaml")


def test_the_checked_in_json_schema_is_the_one_the_models_generate():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema(), (
        "routes.schema.json is stale; write it again with "
        "`python -m dynamic_model_router.routes_file > litellm-configs/routes.schema.json`"
    )


def test_the_json_schema_accepts_the_default_routes_and_refuses_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    validator.validate(yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8")))
    for bad in (minimal(colour="blue"), minimal(routes=[]), minimal(threshold="high"), minimal(top_k=0)):
        assert list(validator.iter_errors(bad)), f"the schema accepted {bad}"
        with pytest.raises(RoutesError):
            parse_routes(bad)


def test_the_routes_file_points_editors_at_its_schema():
    first_line = DEFAULT_ROUTES_FILE.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=./{SCHEMA_FILE.name}"


def test_routes_to_models_the_proxy_serves_pass_and_others_are_named():
    config = load_routes()
    check_served(config, {"auto", "phi2", "doctor", "dcot"})
    with pytest.raises(RoutesError) as refused:
        check_served(config, {"auto", "phi3", "dcot"}, "routes.yaml")
    assert str(refused.value) == (
        "routes.yaml: route 'doctor' sends to model 'doctor'; route 'general' sends to model 'phi2'; "
        "default_model is 'phi2', which this proxy does not serve (it serves auto, dcot, phi3)"
    )
