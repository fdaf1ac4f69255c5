"""Property test of the idle detector over random fleets in moto.

Invariants, whatever the tags, environments, variants, traffic, action and dry-run setting:
  * production endpoints (ENVIRONMENT=production or tagged Environment=production) are never deleted;
  * protected endpoints are never modified (instance counts and scalable targets unchanged);
  * a dry run modifies nothing at all;
  * every endpoint is either evaluated (active, too young, or idle) or listed in errors, and the
    ones judged idle are exactly the ones without traffic in the window.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend

from inference_platform.idle.config import AutoStopAction, IdleDetectorSettings
from inference_platform.idle.scan import AwsClients, run_scan
from inference_platform_ops.bench.idle_detector import EndpointSpec, VariantSpec, fleet_snapshot, seed_fleet
from inference_platform_ops.emulator.search_paging import paged_search

NOW = datetime.now(UTC)

variants = st.lists(
    st.builds(
        VariantSpec,
        name=st.sampled_from(["AllTraffic", "Blue", "Green"]),
        instances=st.integers(0, 3),  # 0 = serverless
        invocations=st.sampled_from([None, 0.0, 7.0]),
        instance_type=st.sampled_from(["ml.m5.large", "ml.c5.large", "ml.p3.2xlarge"]),  # p3: no price
        scalable_target=st.booleans(),
        scheduled_suspended=st.booleans(),
    ),
    min_size=1,
    max_size=2,
    unique_by=lambda v: v.name,
).map(lambda vs: tuple(vs) if all(v.serverless for v in vs) or not any(v.serverless for v in vs) else vs[:1])

tags = st.fixed_dictionaries(
    {},
    optional={
        "Environment": st.sampled_from(["production", "Production", "dev", "staging"]),
        "ProtectionLevel": st.sampled_from(["critical", "critical", "standard"]),
        "aws:cloudformation:stack-name": st.just("ml-inference-dev-Endpoints"),
    },
)


@st.composite
def fleets(draw):
    n = draw(st.integers(2, 6))
    specs = [
        EndpointSpec(
            f"ep-{i}",
            tuple(_serverless_fixed(draw(variants))),
            draw(tags),
            age_hours=draw(st.sampled_from([2.0, 200.0, 200.0, 200.0])),
        )
        for i in range(n)
    ]
    failing = draw(st.sets(st.sampled_from([s.name for s in specs]), max_size=1))
    return specs, failing


def _serverless_fixed(vs):
    # A scalable target on a serverless variant is a different dimension; keep the fleet realistic.
    return [VariantSpec(v.name, 0, v.invocations) if v.serverless else v for v in vs]


def _is_production(spec: EndpointSpec, environment: str) -> bool:
    return environment == "production" or spec.tags.get("Environment", "").lower() == "production"


@pytest.fixture(scope="module")
def moto_session():
    """One moto mock and one set of clients for all examples (reset per example): creating
    boto3 clients costs more than a whole small scan."""
    with mock_aws() as mock, paged_search():
        yield mock, AwsClients.for_region("us-east-1")


# The per-endpoint calls of a scan, made to fail for the drawn endpoint (AccessDenied, or the
# endpoint vanished behind Search's index): its config read, its scale-down, its deletion.
_PER_ENDPOINT_CALLS = ("describe_endpoint_config", "update_endpoint_weights_and_capacities", "delete_endpoint")


def _failing_backend(failing: set[str]) -> dict:
    replacements = {}
    for method in _PER_ENDPOINT_CALLS:
        original = getattr(SageMakerModelBackend, method)

        def fail(self, *args, _original=original, **kwargs):
            name = args[0] if args else kwargs.get("endpoint_name") or kwargs.get("endpoint_config_name", "")
            if name in failing or name.removesuffix("-config") in failing:
                raise JsonRESTError("AccessDeniedException", "denied by the property test")
            return _original(self, *args, **kwargs)

        replacements[method] = fail
    return replacements


def _run(moto_session, fleet, config: IdleDetectorSettings):
    mock, clients = moto_session
    mock.reset()
    specs, failing = fleet
    names = [s.name for s in specs]
    seed_fleet(specs, NOW, clients=clients)
    before = fleet_snapshot(names, clients=clients)
    with pytest.MonkeyPatch.context() as patch:
        for method, replacement in _failing_backend(failing).items():
            patch.setattr(SageMakerModelBackend, method, replacement)
        summary = run_scan(clients, config, NOW)
    return specs, before, fleet_snapshot(names, clients=clients), summary


EXAMPLES = 12
actions = st.sampled_from(list(AutoStopAction))
environments = st.sampled_from(["dev", "production"])


@settings(max_examples=EXAMPLES)
@given(fleet=fleets(), environment=environments)
def test_production_endpoints_are_never_deleted(moto_session, fleet, environment):
    """With AUTO_STOP_ACTION=delete and DRY_RUN off, no endpoint of a production detector and no
    endpoint tagged Environment=production (any case) disappears."""
    config = IdleDetectorSettings(environment, AutoStopAction.DELETE, dry_run=False)
    specs, _, after, _ = _run(moto_session, fleet, config)
    for spec in specs:
        if _is_production(spec, environment):
            assert after[spec.name] is not None, f"production endpoint {spec.name} was deleted"


@settings(max_examples=EXAMPLES)
@given(fleet=fleets(), action=actions, environment=environments)
def test_protected_endpoints_are_never_modified(moto_session, fleet, action, environment):
    """An endpoint tagged ProtectionLevel=critical keeps its instance counts and scalable targets."""
    config = IdleDetectorSettings(environment, action, dry_run=False)
    specs, before, after, _ = _run(moto_session, fleet, config)
    for spec in specs:
        if spec.tags.get("ProtectionLevel") == "critical":
            assert after[spec.name] == before[spec.name], f"protected {spec.name} was modified"
            for v in spec.variants:
                key = f"endpoint/{spec.name}/variant/{v.name}"
                assert after.get(key) == before.get(key), f"protected target {key} was modified"


@settings(max_examples=EXAMPLES)
@given(fleet=fleets(), action=actions, environment=environments)
def test_dry_run_modifies_nothing(moto_session, fleet, action, environment):
    """DRY_RUN=true: every endpoint and scalable target is exactly as before."""
    config = IdleDetectorSettings(environment, action, dry_run=True)
    _, before, after, _ = _run(moto_session, fleet, config)
    assert after == before


@settings(max_examples=EXAMPLES)
@given(fleet=fleets(), action=actions, dry_run=st.booleans(), environment=environments)
def test_every_endpoint_is_evaluated_or_listed_in_errors(moto_session, fleet, action, dry_run, environment):
    """Each endpoint is counted active, skipped as too young, listed idle, or listed in errors;
    the idle ones are exactly those without traffic in the window (unless they errored)."""
    config = IdleDetectorSettings(environment, action, dry_run=dry_run, idle_window_hours=24)
    specs, _, _, summary = _run(moto_session, fleet, config)

    errored = {e["endpoint"] for e in summary["errors"]}
    young = {s["endpoint"] for s in summary["skipped"] if "younger" in s["reason"]}
    truly_idle = {s.name for s in specs if s.age_hours > 24 and s.total_invocations == 0}
    assert summary["scanned"] == len(specs)
    assert young == {s.name for s in specs if s.age_hours <= 24}
    assert set(summary["idle"]) - errored <= truly_idle
    assert truly_idle - set(summary["idle"]) <= errored
    unevaluated_errors = errored - set(summary["idle"])
    assert summary["active"] + len(young) + len(summary["idle"]) + len(unevaluated_errors) == len(specs)
