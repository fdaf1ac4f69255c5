"""Pure capacity planning: the path for every hour, what a plan costs, and how many cold starts it risks.

The same functions serve the planner Lambda (``handlers.capacity_planner``, which plans next week from
the last weeks' ``AWS/SageMaker Invocations``), ``make plan-capacity`` and the cost report's policies,
so a plan is costed exactly as it is chosen. Nothing here reads a clock, the environment or AWS.

Model (written up in docs/cost-report.md):

* **provisioned** - the scale-to-zero endpoint (inference component) is awake: ``clamp(ceil(n /
  per-instance), min, max)`` instances for the hour. Waking it costs ``wake_lead_hours`` of its minimum
  before the hour (scheduled ahead, so requests never meet a cold instance); putting it back to sleep
  costs ``scale_in_hours`` of the last hour's instances (target tracking scales in after the schedule
  lowers the minimum).
* **serverless** - ``n x cost per request``; allowed only while the mean concurrency fits
  ``ServerlessMaxConcurrency``. Expected cold starts: every container after an hour without warm
  containers, the containers above the previous hour's, plus Poisson gaps longer than the keep-warm time.
* **batch** - only when neither real-time path is enabled.
* An hour with no requests costs nothing on serverless; a provisioned hour costs its minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

HOURS_PER_WEEK = 168
SECONDS_PER_HOUR = 3600
PROVISIONED, SERVERLESS, BATCH = "provisioned", "serverless", "batch"
CHOICES = (PROVISIONED, SERVERLESS, BATCH)
_EPSILON = 1e-9
_LAMBDA_MAX = 1e9  # USD per cold start: a penalty no hour's cost can outweigh
_BISECTION_STEPS = 20


def expected_cold_starts(requests: float, concurrency: int, warm: int, keep_warm_s: float,
                         provisioned_concurrency: int = 0) -> float:
    """Expected serverless cold starts in an hour of ``requests`` needing ``concurrency`` containers.

    After an hour without warm containers every container starts cold; otherwise only those above the
    ``warm`` count do. Within the hour arrivals are taken as Poisson: a request finds its container
    reclaimed when the gap since the previous one exceeds ``keep_warm_s``, with probability
    ``exp(-requests * keep_warm_s / 3600)``. Provisioned concurrency containers never start cold.
    """
    if requests <= 0:
        return 0.0
    if concurrency <= provisioned_concurrency:
        return 0.0
    beyond = (concurrency - provisioned_concurrency) / concurrency
    reclaimed = math.exp(-requests * keep_warm_s / SECONDS_PER_HOUR) * beyond
    warm = max(warm, provisioned_concurrency)
    if warm == 0:
        return concurrency + (requests - 1) * reclaimed
    return max(0, concurrency - warm) + requests * reclaimed


@dataclass(frozen=True)
class CostInputs:
    """Unit costs and limits of one environment (prices already looked up)."""

    serverless_cost_per_request: float
    instance_hour_price: float
    requests_per_instance_hour: float  # target tracking's load per instance (or copy)
    latency_s: float
    serverless_max_concurrency: int = 200
    keep_warm_s: float = 600.0
    wake_lead_hours: float = 0.25
    scale_in_hours: float = 0.25
    min_instances: int = 1
    max_instances: int = 100
    batch_cost_per_request: float = 0.0
    provisioned_enabled: bool = True
    serverless_enabled: bool = True
    # Serverless provisioned concurrency: warm containers billed every hour, cheaper compute while they serve.
    provisioned_concurrency: int = 0
    provisioned_concurrency_hour_cost: float = 0.0
    provisioned_concurrency_saving_per_request: float = 0.0

    def __post_init__(self) -> None:
        for name in ("serverless_cost_per_request", "instance_hour_price", "batch_cost_per_request",
                     "wake_lead_hours", "scale_in_hours", "provisioned_concurrency",
                     "provisioned_concurrency_hour_cost", "provisioned_concurrency_saving_per_request"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("requests_per_instance_hour", "latency_s", "keep_warm_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 1 <= self.min_instances <= self.max_instances:
            raise ValueError(f"need 1 <= min_instances <= max_instances, got {self.min_instances}, "
                             f"{self.max_instances}")
        if self.serverless_max_concurrency < 1:
            raise ValueError(f"serverless_max_concurrency must be >= 1, got {self.serverless_max_concurrency}")

    @property
    def paths(self) -> tuple[str, ...]:
        """The real-time paths this environment can use; batch when it has none."""
        enabled = tuple(path for path, on in ((PROVISIONED, self.provisioned_enabled),
                                              (SERVERLESS, self.serverless_enabled)) if on)
        return enabled or (BATCH,)

    def instances(self, requests: float) -> int:
        needed = math.ceil(requests / self.requests_per_instance_hour) if requests > 0 else 0
        return max(self.min_instances, min(self.max_instances, needed))

    def concurrency(self, requests: float) -> int:
        """Mean serverless containers in use (Little's law, rounded up)."""
        return math.ceil(requests * self.latency_s / SECONDS_PER_HOUR) if requests > 0 else 0

    def provisioned_fits(self, requests: float) -> bool:
        """Target tracking can carry the hour within ``max_instances``."""
        return requests <= self.max_instances * self.requests_per_instance_hour

    def serverless_fits(self, requests: float) -> bool:
        return self.concurrency(requests) <= self.serverless_max_concurrency

    def cold_starts(self, requests: float, warm: int) -> float:
        """Expected serverless cold starts in an hour of ``requests`` after ``warm`` warm containers."""
        return expected_cold_starts(requests, self.concurrency(requests), warm, self.keep_warm_s,
                                    self.provisioned_concurrency)

    def serverless_cost(self, requests: float) -> float:
        """On-demand cost of ``requests``, less what provisioned concurrency serves at its lower compute price."""
        if requests <= 0:
            return 0.0
        served = min(1.0, self.provisioned_concurrency / max(1, self.concurrency(requests)))
        return requests * (self.serverless_cost_per_request - served * self.provisioned_concurrency_saving_per_request)


@dataclass(frozen=True)
class HourOutcome:
    choice: str
    instances: float  # instance-hours billed for this hour (wake-up and scale-in tails included)
    cost: float
    cold_starts: float
    business: bool
    over_capacity: bool = False  # the chosen path cannot carry the hour (max instances / max concurrency)


@dataclass(frozen=True)
class PlanOutcome:
    """A plan applied to a sequence of hours."""

    hours: tuple[HourOutcome, ...]

    @property
    def cost(self) -> float:
        return sum(h.cost for h in self.hours)

    @property
    def cold_starts(self) -> float:
        return sum(h.cold_starts for h in self.hours)

    @property
    def business_cold_starts(self) -> float:
        return sum(h.cold_starts for h in self.hours if h.business)

    @property
    def hours_over_capacity(self) -> int:
        return sum(h.over_capacity for h in self.hours)

    @property
    def instance_hours(self) -> float:
        return sum(h.instances for h in self.hours)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(h.choice for h in self.hours)


def _hour_cost(inputs: CostInputs, choice: str, requests: float, previous: str, previous_requests: float
               ) -> tuple[float, float, float]:
    """(instance-hours, cost, cold starts) of one hour given the previous hour's choice and traffic."""
    instances = 0.0
    if choice == PROVISIONED:
        instances = inputs.instances(requests)
        if previous != PROVISIONED:
            instances += inputs.wake_lead_hours * inputs.min_instances
    elif previous == PROVISIONED:
        instances = inputs.scale_in_hours * inputs.instances(previous_requests)
    cost = instances * inputs.instance_hour_price
    cold = 0.0
    if choice == SERVERLESS:
        cost += inputs.serverless_cost(requests)
        warm = inputs.concurrency(previous_requests) if previous == SERVERLESS else 0
        cold = inputs.cold_starts(requests, warm)
    elif choice == BATCH:
        cost += requests * inputs.batch_cost_per_request
    return instances, cost, cold


def evaluate(inputs: CostInputs, requests: Sequence[float], business: Sequence[bool], choices: Sequence[str], *,
             before: str = SERVERLESS, before_requests: float = 0.0) -> PlanOutcome:
    """Cost and cold starts of ``choices`` over consecutive hours (``before``: the hour preceding them)."""
    if not len(requests) == len(business) == len(choices):
        raise ValueError(f"requests, business and choices differ in length: {len(requests)}, {len(business)}, "
                         f"{len(choices)}")
    hours = []
    previous, previous_requests = before, before_requests
    for count, in_hours, choice in zip(requests, business, choices, strict=True):
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}")
        if count < 0:
            raise ValueError(f"requests must be >= 0, got {count!r}")
        instances, cost, cold = _hour_cost(inputs, choice, count, previous, previous_requests)
        if inputs.serverless_enabled:  # the serverless endpoint's provisioned concurrency bills every hour
            cost += inputs.provisioned_concurrency_hour_cost
        over = (choice == PROVISIONED and not inputs.provisioned_fits(count)) or (
            choice == SERVERLESS and not inputs.serverless_fits(count))
        hours.append(HourOutcome(choice, instances, cost, cold, bool(in_hours), over))
        previous, previous_requests = choice, count
    return PlanOutcome(tuple(hours))


def seed_choices(inputs: CostInputs, business: Sequence[bool]) -> tuple[str, ...]:
    """The default routing rule: business hours provisioned, other hours serverless (a disabled path
    falls to the other real-time path, then to batch, as ``resolve_inference_strategy`` does)."""
    paths = inputs.paths
    preferred = [PROVISIONED if in_hours else SERVERLESS for in_hours in business]
    return tuple(choice if choice in paths else paths[0] for choice in preferred)


def _allowed(inputs: CostInputs, requests: float) -> tuple[str, ...]:
    """Enabled paths that can carry the hour (all enabled paths when none can: the least bad is chosen)."""
    fits = {PROVISIONED: inputs.provisioned_fits, SERVERLESS: inputs.serverless_fits}
    paths = [path for path in inputs.paths if path not in fits or fits[path](requests)]
    return tuple(paths or inputs.paths)


def _cheapest_for_penalty(inputs: CostInputs, requests: Sequence[float], business: Sequence[bool],
                          penalty: float, cyclic: bool) -> tuple[str, ...]:
    """Dynamic programme over the hours: minimise cost + penalty x business-hour cold starts.

    The state is the previous hour's choice (all that the next hour's cost depends on). ``cyclic``
    plans a week that repeats: the hour before the first is the last hour of the same plan.
    """
    count = len(requests)
    starts = _allowed(inputs, requests[-1]) if cyclic else (SERVERLESS,)
    best_plan: tuple[str, ...] = ()
    best_value = math.inf
    for start in starts:
        before_requests = requests[-1] if cyclic else 0.0
        # value[state] = (objective, choices) for plans of the hours so far ending in ``state``
        frontier: dict[str, tuple[float, list[str]]] = {start: (0.0, [])}
        previous_requests = before_requests
        for index in range(count):
            following: dict[str, tuple[float, list[str]]] = {}
            for choice in _allowed(inputs, requests[index]):
                options = []
                for previous, (value, _plan) in frontier.items():
                    _, cost, cold = _hour_cost(inputs, choice, requests[index], previous, previous_requests)
                    objective = value + cost + (penalty * cold if business[index] else 0.0)
                    options.append((objective, previous))
                objective, previous = min(options)
                following[choice] = (objective, [*frontier[previous][1], choice])
            frontier = following
            previous_requests = requests[index]
        for end, (value, plan) in frontier.items():
            if cyclic and end != start:
                continue  # a repeating week must end where it began
            if value < best_value - _EPSILON:
                best_value, best_plan = value, tuple(plan)
    return best_plan


@dataclass(frozen=True)
class Plan:
    choices: tuple[str, ...]
    outcome: PlanOutcome
    within_budget: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


def plan_hours(inputs: CostInputs, requests: Sequence[float], business: Sequence[bool],
               business_cold_start_budget: float, cyclic: bool = True) -> Plan:
    """The cheapest plan found whose expected business-hour cold starts stay within the budget.

    Searches the penalty per cold start (a Lagrangian relaxation of the budget) by bisection; the seed
    rule is always a candidate too, so the plan never costs more than the default routing rule. If no
    plan meets the budget (serverless is the only real-time path), the plan with the fewest business-hour
    cold starts is returned with ``within_budget`` False.
    """
    if len(requests) != len(business) or not requests:
        raise ValueError(f"requests and business must be non-empty and of equal length, got {len(requests)} "
                         f"and {len(business)}")
    if business_cold_start_budget < 0:
        raise ValueError(f"business_cold_start_budget must be >= 0, got {business_cold_start_budget!r}")

    def outcome(choices: tuple[str, ...]) -> PlanOutcome:
        if cyclic:
            return evaluate(inputs, requests, business, choices, before=choices[-1], before_requests=requests[-1])
        return evaluate(inputs, requests, business, choices, before=SERVERLESS, before_requests=0.0)

    # Hours no enabled path can carry are over capacity whatever the plan; any other such hour is a defect.
    carries = {PROVISIONED: inputs.provisioned_fits, SERVERLESS: inputs.serverless_fits, BATCH: lambda _: True}
    unavoidable = sum(1 for count in requests if not any(carries[path](count) for path in inputs.paths))

    def fits(result: PlanOutcome) -> bool:
        return (result.business_cold_starts <= business_cold_start_budget + _EPSILON
                and result.hours_over_capacity <= unavoidable)

    candidates: list[tuple[str, ...]] = []
    cheapest = _cheapest_for_penalty(inputs, requests, business, 0.0, cyclic)
    candidates.append(cheapest)
    strictest = _cheapest_for_penalty(inputs, requests, business, _LAMBDA_MAX, cyclic)
    candidates.append(strictest)
    if not fits(outcome(cheapest)) and fits(outcome(strictest)):
        # Bisect the penalty's logarithm: its scale (USD per cold start) is not known in advance.
        low, high = -6.0, math.log10(_LAMBDA_MAX)
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2
            plan = _cheapest_for_penalty(inputs, requests, business, 10**middle, cyclic)
            if fits(outcome(plan)):
                high = middle
                candidates.append(plan)
            else:
                low = middle
    candidates.append(seed_choices(inputs, business))
    results = [(choices, outcome(choices)) for choices in candidates]
    feasible = [(result.cost, index) for index, (_, result) in enumerate(results) if fits(result)]
    if feasible:
        _, index = min(feasible)
        choices, result = results[index]
        return Plan(choices, result, within_budget=True)
    choices, result = min(results, key=lambda item: (item[1].hours_over_capacity, item[1].business_cold_starts,
                                                     item[1].cost))
    note = (f"no plan keeps business-hour cold starts within {business_cold_start_budget:g}: the fewest is "
            f"{result.business_cold_starts:.1f} ({'/'.join(inputs.paths)} only)")
    return Plan(choices, result, within_budget=False, notes=(note,))


def hour_of_week(weekday: int, hour: int) -> int:
    """Monday 00:00 local = 0 ... Sunday 23:00 = 167."""
    if not (0 <= weekday <= 6 and 0 <= hour <= 23):
        raise ValueError(f"weekday must be 0-6 and hour 0-23, got {weekday}, {hour}")
    return weekday * 24 + hour


def week_grid(choices: Sequence[str]) -> str:
    """A 7 x 24 text grid of a week's plan: P provisioned, s serverless, b batch."""
    if len(choices) != HOURS_PER_WEEK:
        raise ValueError(f"a week plan has {HOURS_PER_WEEK} hours, got {len(choices)}")
    marks = {PROVISIONED: "P", SERVERLESS: "s", BATCH: "b"}
    lines = ["     " + "".join(f"{hour:<3d}" for hour in range(24))]
    for day, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
        row = choices[day * 24:(day + 1) * 24]
        lines.append(f"{name}  " + "".join(f"{marks[choice]:<3s}" for choice in row))
    return "\n".join(line.rstrip() for line in lines)
