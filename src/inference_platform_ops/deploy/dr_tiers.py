"""What each disaster-recovery tier deploys where, derived from ``templates/params/<env>.json``.

``region_plans(config)`` turns one params file into the templates/main.yaml parameters of every region
that runs the stack, primary first:

* Tier 1, active-active: the secondary runs exactly what the primary runs (endpoints, scaling, workflow,
  idle detection); the state table has a replica in both regions.
* Tier 2, standby that costs almost nothing: the secondary runs the workflow and a serverless endpoint
  (``DrStandby: "serverless"``, the default) or a scale-to-zero endpoint held at zero copies
  (``DrStandby: "scale-to-zero"``, for models serverless cannot host, e.g. on GPUs); no instance runs
  until a failover sends it work, and that work accepts cold starts. Idle detection is off there
  (an idle standby is idle by design). Replicas in both.
* Tier 3, cold backup: no secondary stack at all. The table has point-in-time recovery and daily AWS
  Backup copies; recovery means deploying the stack elsewhere and restoring.

The file's top level (``Regions``, ``DrTier``) is the source of truth; the same keys inside ``Parameters``
may repeat it but must not contradict it. ``RegionParameters.<region>`` (optional) overrides parameters that
are regional by nature (artifact bucket, ECR image, model data bucket) for one region.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TIER_ACTIVE_ACTIVE, TIER_WARM_STANDBY, TIER_COLD_BACKUP = 1, 2, 3
Role = Literal["primary", "secondary"]

# Parameters the tier decides; a params file may repeat them but never set them differently.
_DERIVED_KEYS = ("PrimaryRegion", "SecondaryRegion", "DrTier")
# In the secondary's own stack these would name endpoints in its own region (see region_plans).
_SECONDARY_ENDPOINT_KEYS = ("SecondaryProvisionedEndpointName", "SecondaryServerlessEndpointName")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
_ECR_REGION = re.compile(r"\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True)
class TierDescription:
    tier: int
    name: str
    secondary_runtime: str
    state: str
    # The best the design can achieve; a params file must not promise better (DrTargets).
    best_rpo_minutes: int
    best_rto_minutes: int
    how_recovery_works: str


TIER_DESCRIPTIONS: dict[int, TierDescription] = {
    TIER_ACTIVE_ACTIVE: TierDescription(
        tier=1, name="active-active",
        secondary_runtime="same endpoints, scaling, workflow and idle detection as the primary",
        state="DynamoDB global table replica in both regions (asynchronous, typically under a second)",
        best_rpo_minutes=1, best_rto_minutes=5,
        how_recovery_works="requests fail over automatically (CrossRegionClient); executions in flight in "
                           "the lost region are re-driven in the secondary from the replicated ledger",
    ),
    TIER_WARM_STANDBY: TierDescription(
        tier=2, name="standby",
        secondary_runtime="workflow on, a serverless endpoint (or a scale-to-zero endpoint at zero copies), "
                          "no instance running, no provisioned concurrency, idle detection off",
        state="DynamoDB global table replica in both regions",
        best_rpo_minutes=1, best_rto_minutes=15,
        how_recovery_works="requests fail over automatically to the standby and accept its cold starts "
                           "(serverless: seconds; a scale-to-zero standby wakes on its first request in "
                           "minutes, meanwhile the workflow falls back to batch there); an operator raises "
                           "capacity (or redeploys as tier 1) for a long outage",
    ),
    TIER_COLD_BACKUP: TierDescription(
        tier=3, name="cold backup",
        secondary_runtime="none",
        state="primary table only, with point-in-time recovery and daily AWS Backup recovery points "
              "(optionally copied to a vault in another region)",
        best_rpo_minutes=1440, best_rto_minutes=240,
        how_recovery_works="deploy the stack in another region and restore the table from the latest "
                           "copied backup; PITR covers data damage while the region is up (RPO ~5 min)",
    ),
}


@dataclass(frozen=True)
class RegionPlan:
    region: str
    role: Role
    parameters: dict[str, str]  # the full templates/main.yaml parameters for this region


def dr_tier(config: Mapping[str, Any]) -> int:
    tier = config.get("DrTier")
    if isinstance(tier, str) and tier.strip().isdigit():
        tier = int(tier)
    if isinstance(tier, bool) or tier not in TIER_DESCRIPTIONS:
        raise ValueError(f"DrTier must be 1 (active-active), 2 (warm standby) or 3 (cold backup), got {tier!r}")
    return tier


def regions(config: Mapping[str, Any]) -> tuple[str, str]:
    """(primary, secondary); secondary is "" for a single-region deployment. Checked for the tier."""
    tier = dr_tier(config)
    section = config.get("Regions")
    if not isinstance(section, Mapping):
        raise ValueError('Regions must be an object like {"Primary": "us-east-1", "Secondary": "us-west-2"}')
    primary = section.get("Primary")
    secondary = section.get("Secondary", "")
    if not isinstance(primary, str) or not _REGION.match(primary):
        raise ValueError(f"Regions.Primary must be a region code such as us-east-1, got {primary!r}")
    if not isinstance(secondary, str) or (secondary and not _REGION.match(secondary)):
        raise ValueError(f'Regions.Secondary must be "" or a region code such as us-west-2, got {secondary!r}')
    if secondary == primary:
        raise ValueError(f"Regions.Secondary must differ from Regions.Primary (both are {primary!r})")
    if tier in (TIER_ACTIVE_ACTIVE, TIER_WARM_STANDBY) and not secondary:
        raise ValueError(f"DrTier {tier} ({TIER_DESCRIPTIONS[tier].name}) runs in two regions: set "
                         "Regions.Secondary, or use DrTier 3")
    return primary, secondary


def region_plans(config: dict) -> list[RegionPlan]:
    """Every region's main.yaml parameters for this params file, primary first (tier 3: primary only)."""
    tier = dr_tier(config)
    primary, secondary = regions(config)
    base = _base_parameters(config)
    _check_targets(config, tier)
    common = {
        "PrimaryRegion": primary,
        # Tier 3 has no secondary runtime: nothing may fail over to it, and no replica is made there.
        "SecondaryRegion": secondary if tier != TIER_COLD_BACKUP else "",
        "DrTier": str(tier),
    }
    _check_repeated_keys(base, common, secondary)
    overrides = _region_overrides(config, {primary, secondary} - {""})

    plans = [RegionPlan(primary, "primary", {**base, **overrides.get(primary, {}), **common})]
    if tier == TIER_COLD_BACKUP:
        return plans
    secondary_params = {**base, **overrides.get(secondary, {}), **common}
    # The secondary's own stack must not "fail over" to endpoints named for the secondary region: those are
    # its own endpoints. Its workflow serves locally.
    secondary_params.update(dict.fromkeys(_SECONDARY_ENDPOINT_KEYS, ""))
    if tier == TIER_WARM_STANDBY:
        secondary_params.update(_warm_standby_overrides(base, standby_kind(config)))
    plans.append(RegionPlan(secondary, "secondary", secondary_params))
    return plans


STANDBY_KINDS = ("serverless", "scale-to-zero")


def standby_kind(config: Mapping[str, Any]) -> str:
    """``DrStandby`` (top level): what a tier 2 secondary keeps ready; serverless unless told otherwise."""
    kind = config.get("DrStandby", "serverless")
    if kind not in STANDBY_KINDS:
        raise ValueError(f"DrStandby must be one of {', '.join(STANDBY_KINDS)}, got {kind!r}")
    return kind


def _warm_standby_overrides(base: Mapping[str, str], kind: str = "serverless") -> dict[str, str]:
    overrides = {
        "InitialInstanceCount": "1",
        "EnableScheduledScaling": "false",
        "ServerlessProvisionedConcurrency": "0",
        "EnableIdleDetection": "false",
        # The standby takes failed-over work, so its workflow runs (and needs the state table replica).
        "EnableWorkflow": "true",
        "EnableStateStore": "true",
        # Nothing standing: no instance, no plan, the default routing rule on whatever the standby has.
        "RoutingPolicy": "business-hours",
    }
    if kind == "serverless":
        overrides |= {"EnableServerlessInference": "true", "EnableProvisionedEndpoint": "false",
                      "EnableScaleToZero": "false"}
    else:  # a scale-to-zero endpoint held at zero copies: no schedule wakes it, its first request does
        overrides |= {"EnableProvisionedEndpoint": "true", "EnableScaleToZero": "true",
                      "EnableServerlessInference": "false", "ScaleToZeroSchedule": "on-demand"}
    # Scaling bounds must stay consistent with one instance (main.yaml compares them before deploy).
    for key in ("BusinessHoursMinCapacity", "OffHoursMinCapacity", "OffHoursMaxCapacity"):
        if key in base:
            overrides[key] = "1"
    return overrides


def _base_parameters(config: Mapping[str, Any]) -> dict[str, str]:
    params = config.get("Parameters")
    if not isinstance(params, Mapping):
        raise ValueError("Parameters must be an object of templates/main.yaml parameter names to strings")
    bad = sorted(key for key, value in params.items() if not isinstance(value, str))
    if bad:
        raise ValueError(f"Parameters.{bad[0]} must be a string (CloudFormation parameters are strings)"
                         + (f"; so must {', '.join(bad[1:])}" if len(bad) > 1 else ""))
    return dict(params)


def _check_repeated_keys(base: Mapping[str, str], common: Mapping[str, str], secondary: str) -> None:
    expected = {**common, "SecondaryRegion": secondary}
    for key in _DERIVED_KEYS:
        if key in base and base[key] not in ("", expected[key], common[key]):
            raise ValueError(f"Parameters.{key} is {base[key]!r} but the top level says {expected[key]!r} "
                             "(Regions/DrTier decide it; remove it from Parameters or make them agree)")


def _region_overrides(config: Mapping[str, Any], known: set[str]) -> dict[str, dict[str, str]]:
    section = config.get("RegionParameters") or {}
    if not isinstance(section, Mapping):
        raise ValueError("RegionParameters must be an object of region -> {parameter: string}")
    result: dict[str, dict[str, str]] = {}
    for region, values in section.items():
        if region not in known:
            raise ValueError(f"RegionParameters.{region}: {region!r} is not a region of this deployment "
                             f"({', '.join(sorted(known))})")
        if not isinstance(values, Mapping) or not all(isinstance(v, str) for v in values.values()):
            raise ValueError(f"RegionParameters.{region} must map parameter names to strings")
        for key in values:
            if key in _DERIVED_KEYS:
                raise ValueError(f"RegionParameters.{region}.{key}: {key} is set by Regions/DrTier, not per region")
        result[region] = dict(values)
    return result


def _check_targets(config: Mapping[str, Any], tier: int) -> None:
    targets = config.get("DrTargets")
    if targets is None:
        return
    description = TIER_DESCRIPTIONS[tier]
    if not isinstance(targets, Mapping):
        raise ValueError('DrTargets must be an object like {"RpoMinutes": 15, "RtoMinutes": 60}')
    for key, best in (("RpoMinutes", description.best_rpo_minutes), ("RtoMinutes", description.best_rto_minutes)):
        value = targets.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"DrTargets.{key} must be a whole number of minutes, got {value!r}")
        if value < best:
            raise ValueError(f"DrTargets.{key} is {value} but DrTier {tier} ({description.name}) cannot do better "
                             f"than {best} minutes; choose a lower tier number or a looser target")


def region_bound_warnings(plans: list[RegionPlan]) -> list[str]:
    """Parameters that point at another region's resources (SageMaker pulls images only from its own region)."""
    warnings = []
    for plan in plans:
        image = plan.parameters.get("ModelImageUri", "")
        match = _ECR_REGION.search(image)
        if match and match.group(1) != plan.region:
            warnings.append(f"{plan.role} {plan.region}: ModelImageUri is in ECR {match.group(1)}; SageMaker needs "
                            f"the image in {plan.region} (replicate it and set RegionParameters.{plan.region}."
                            "ModelImageUri)")
    return warnings
