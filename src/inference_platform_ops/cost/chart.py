"""PNG chart of one simulated week: traffic, provisioned capacity and cost per hour for every policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from matplotlib.dates import DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator  # the object API renders with Agg, no pyplot or display needed

from inference_platform_ops.cost.policies import POLICY_LABELS
from inference_platform_ops.cost.trace_sim import Simulation

WEEK_HOURS = 169  # a week has 169 hours when the clocks go back

_STYLES = {  # policy -> colour, line style
    "always_on": ("#c0392b", "-"),
    "seed_schedule": ("#2471a3", "--"),
    "seed_scale_to_zero": ("#17a589", "-"),
    "cost_policy": ("#1e8449", "-."),
    "serverless_only": ("#b9770e", ":"),
    "oracle": ("#7d3c98", ":"),
    "constrained_oracle": ("#6c3483", "--"),
}


def _business_spans(sim: Simulation) -> list[tuple]:
    """Contiguous runs of business hours as (start, end) UTC datetimes."""
    spans: list[tuple] = []
    for hour in sim.hours[:WEEK_HOURS]:
        end = hour.start_utc + timedelta(hours=1)
        if not hour.business_hours:
            continue
        if spans and spans[-1][1] == hour.start_utc:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((hour.start_utc, end))
    return spans


def write_week_chart(sim: Simulation, path: Path) -> Path:
    """Draw the first week of the simulation into ``path`` (PNG) and return it."""
    hours = sim.hours[:WEEK_HOURS]
    zone = ZoneInfo(sim.config.window.timezone)
    times = [h.start_utc.astimezone(zone) for h in hours]
    fig = Figure(figsize=(13, 10))
    traffic, capacity, cost = fig.subplots(3, 1, sharex=True, height_ratios=(1, 1, 1.5))
    title = (
        f"{sim.config.environment or 'environment'}: one week of '{sim.config.traffic_profile}' traffic "
        f"({sim.config.instance_type}, serverless {sim.config.serverless_memory_mb} MB, "
        f"{sim.config.model_latency_ms:g} ms)"
    )
    fig.suptitle(title, fontsize=12)

    spans = _business_spans(sim)
    for axis in (traffic, capacity, cost):
        for start, end in spans:  # shade business hours so the schedule's effect lines up by eye
            axis.axvspan(start.astimezone(zone), end.astimezone(zone), color="#eaeded", lw=0)
        axis.grid(axis="y", alpha=0.3)

    traffic.step(times, [h.requests for h in hours], where="post", color="#34495e", lw=1.2)
    traffic.set_ylabel("requests / hour")
    serverless = [h.platform_serverless_requests for h in hours]
    traffic.fill_between(times, serverless, step="post", color="#f5b041", alpha=0.6,
                         label="routed to serverless today")

    for name, label in POLICY_LABELS.items():
        policy = sim.policies[name]
        colour, style = _STYLES[name]
        capacity.step(times, policy.hourly_instances[:WEEK_HOURS], where="post", color=colour, ls=style, lw=1.5,
                      label=label)
        total = policy.total / sim.months
        cost.step(times, policy.hourly_cost[:WEEK_HOURS], where="post", color=colour, ls=style, lw=1.5,
                  label=f"{label}: ${total:,.0f}/month")
    capacity.set_ylabel("instance-hours")
    capacity.yaxis.set_major_locator(MaxNLocator(integer=True))
    cost.set_ylabel("endpoint USD / hour")
    for axis in (traffic, capacity, cost):  # head-room above the tallest line so the legend covers nothing
        axis.set_ylim(0, max(axis.get_ylim()[1], 1e-9) * 1.6)
        axis.legend(loc="upper right", fontsize=7, ncol=3 if axis is not traffic else 1)
    cost.xaxis.set_major_locator(DayLocator(tz=zone))
    cost.xaxis.set_major_formatter(DateFormatter("%a %d %b", tz=zone))
    cost.set_xlabel(f"local time ({sim.config.window.timezone}); shaded: business hours")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
