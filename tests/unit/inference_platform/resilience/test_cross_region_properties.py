"""Properties of CrossRegionClient over random sequences of region behaviour (Hypothesis).

Each region is a real botocore ``sagemaker-runtime`` client (request serialisation, error parsing, modeled
exception classes are botocore's); its HTTP send is answered in-process from botocore's ``before-send`` event
with what the region does on that call: ``ok`` (10 ms), ``slow`` (a correct answer in 150 ms, above the 100 ms
threshold), ``5xx`` (503 ServiceUnavailable), ``refused`` (EndpointConnectionError) or ``4xx`` (400
ValidationError). Time is a ManualClock moved by those latencies and by pauses between calls: nothing sleeps,
and no verdict depends on how fast this machine is.
"""

from __future__ import annotations

import functools
import json
import math

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import event, given
from hypothesis import strategies as st
from moto.core.botocore_stubber import MockRawResponse

from inference_platform.resilience.cross_region import CrossRegionClient, CrossRegionUnavailableError
from inference_platform_ops.emulator.fake_sagemaker_runtime import ManualClock, RecordingMetrics

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
REGIONS = (PRIMARY, SECONDARY)
NAMES = {PRIMARY: "churn-use1", SECONDARY: "churn-usw2"}
BODY = {PRIMARY: b'{"prediction": 1}', SECONDARY: b'{"prediction": 2}'}
BEHAVIOURS = ("ok", "slow", "5xx", "refused", "4xx")
HARD = ("5xx", "refused")  # the region did not answer
LATENCY_S = {"ok": 0.01, "slow": 0.15, "5xx": 0.005, "refused": 0.0, "4xx": 0.005}
THRESHOLD_MS, RESET_S = 100.0, 1.0
PAUSES_S = (0.0, 0.0, 0.0, 0.3, RESET_S)  # between calls: mostly none, sometimes part or all of a reset period


class ScriptedRegions:
    """Two botocore clients whose every HTTP attempt does what ``behaviour[region]`` says, on ``clock``."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.behaviour = dict.fromkeys(REGIONS, "ok")
        self.calls: list[str] = []
        session = boto3.session.Session()
        # One attempt per call, so botocore's retry backoff never sleeps; a send that escaped the hook would go
        # to a closed loopback port, never to AWS.
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
        self.clients = {region: session.client("sagemaker-runtime", region_name=region, config=config,
                                               endpoint_url="http://127.0.0.1:9")
                        for region in REGIONS}
        for region, client in self.clients.items():
            client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint",
                                        functools.partial(self._send, region))

    def _send(self, region: str, request, **_: object) -> AWSResponse:
        kind = self.behaviour[region]
        self.calls.append(region)
        self.clock.advance(LATENCY_S[kind])
        if kind == "refused":
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind in ("5xx", "4xx"):
            status, code = (503, "ServiceUnavailable") if kind == "5xx" else (400, "ValidationError")
            return AWSResponse(request.url, status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/",
                                                     "Content-Type": "application/json"},
                               MockRawResponse(json.dumps({"message": f"{code} from {region}"})))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, MockRawResponse(BODY[region]))

    def client(self, failure_threshold: int) -> CrossRegionClient:
        return CrossRegionClient(PRIMARY, SECONDARY, NAMES, self.clients.__getitem__,
                                 failure_threshold=failure_threshold, reset_timeout_s=RESET_S,
                                 latency_threshold_ms=THRESHOLD_MS, metrics=RecordingMetrics(self.clock),
                                 clock=self.clock)

    def call(self, client: CrossRegionClient, behaviour: dict[str, str], pause_s: float):
        """One invoke_endpoint: (the result, the ClientError or "refused"; the regions it reached, in order)."""
        self.behaviour = behaviour
        self.clock.advance(pause_s)
        self.calls = []
        try:
            outcome = client.invoke_endpoint(Body=b'{"x": 1}', ContentType="application/json")
        except CrossRegionUnavailableError:
            outcome = "refused"
        except ClientError as exc:
            outcome = exc
        return outcome, self.calls


@functools.cache
def scripted() -> ScriptedRegions:
    return ScriptedRegions()  # built once per worker: creating botocore clients costs more than the calls


steps = st.lists(st.tuples(st.sampled_from(BEHAVIOURS), st.sampled_from(BEHAVIOURS), st.sampled_from(PAUSES_S)),
                 min_size=1, max_size=30)


@given(steps=steps, failure_threshold=st.integers(min_value=1, max_value=3))
def test_a_call_is_refused_only_when_every_region_failed_it(steps, failure_threshold) -> None:
    """Whatever the regions do, call after call: a call is refused only if every region failed it, i.e. was
    called and failed hard (5xx, refused), or was kept out by its breaker because its latest call failed hard.
    A region that answers, however slowly and however often its breaker opened on slowness, is never the reason
    for a refusal. Each region is called at most once per call; an answer comes back from the region that gave
    it, marked slow exactly when it was; a caller error (4xx) comes back unchanged, from either region."""
    regions = scripted()
    client = regions.client(failure_threshold)
    latest: dict[str, str | None] = dict.fromkeys(REGIONS)  # what each region did on its latest call
    for primary_does, secondary_does, pause_s in steps:
        behaviour = {PRIMARY: primary_does, SECONDARY: secondary_does}
        outcome, called = regions.call(client, behaviour, pause_s)

        assert len(called) == len(set(called)), f"a region was called twice in one call: {called}"
        event("refused" if outcome == "refused" else "4xx" if isinstance(outcome, ClientError)
              else "panic mode" if outcome.panic else "answered")
        if outcome == "refused":
            for region in REGIONS:
                failed = behaviour[region] in HARD if region in called else latest[region] in HARD
                assert failed, (f"refused although {region} did not fail: called={called}, behaviour={behaviour}, "
                                f"its latest call={latest[region]}, breakers={client.breaker_states()}")
        elif isinstance(outcome, ClientError):
            assert called and behaviour[called[-1]] == "4xx"
            assert type(outcome).__name__ == "ValidationError"  # botocore's modeled class, not a wrapper
            assert outcome.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert outcome.response["Error"]["Message"] == f"ValidationError from {called[-1]}"
        else:
            assert called and outcome.region == called[-1]
            assert behaviour[outcome.region] in ("ok", "slow")
            assert (outcome.body, outcome.slow) == (BODY[outcome.region], behaviour[outcome.region] == "slow")
            assert outcome.failover == (outcome.region == SECONDARY)
        latest.update((region, behaviour[region]) for region in called)


@given(dead=st.sampled_from([(PRIMARY,), (SECONDARY,), REGIONS]),
       steps=st.lists(st.tuples(st.sampled_from(BEHAVIOURS), st.sampled_from(BEHAVIOURS),
                                st.sampled_from(HARD), st.sampled_from(PAUSES_S)), min_size=1, max_size=40),
       failure_threshold=st.integers(min_value=1, max_value=3))
def test_a_dead_region_gets_failure_threshold_calls_then_one_probe_per_reset_period(dead, steps,
                                                                                   failure_threshold) -> None:
    """A region that fails hard on every call (5xx or refused) receives at most failure_threshold calls plus one
    per reset period elapsed, whatever the other region does (answers, slowly, fails) and however often the client
    is in panic mode: panic mode never calls a region that is down. With both regions dead every call is refused
    (so all but those few calls are refused without sending a single request)."""
    regions = scripted()
    client = regions.client(failure_threshold)
    started = regions.clock()
    received = dict.fromkeys(REGIONS, 0)
    for live_primary, live_secondary, hard, pause_s in steps:
        behaviour = {PRIMARY: live_primary, SECONDARY: live_secondary} | dict.fromkeys(dead, hard)
        outcome, called = regions.call(client, behaviour, pause_s)
        for region in called:
            received[region] += 1
        if len(dead) == 2:
            assert outcome == "refused"

    periods = math.floor((regions.clock() - started) / RESET_S)
    for region in dead:
        assert received[region] <= failure_threshold + periods, (region, received, periods, steps)
