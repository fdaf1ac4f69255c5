"""Monthly cost of an environment: always-on vs schedule vs serverless vs the hour-by-hour oracle.

Reads templates/params/<env>.json (over templates/main.yaml's parameter defaults), the traffic profile
named by its CostProfile (data/traffic/<name>.csv) and the shipped price table; prints a table (or
JSON with --json) and writes report.json, hours.csv and week.png to build/cost-report/<env>/.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from inference_platform_ops.intrinsics import parameter_values
from inference_platform_ops.paths import BUILD, PARAMS, ROOT, TEMPLATES, TRAFFIC
from inference_platform_ops.templates import load_template

if TYPE_CHECKING:
    from inference_platform_ops.cost.trace_sim import Simulation

DEFAULT_WEEK = "2026-11-16"  # a Monday: no clock change, no US federal holiday that week


def template_defaults(main_template: Path) -> dict[str, str]:
    """Default value of every main.yaml parameter, as the strings CloudFormation passes on."""
    if not main_template.is_file():
        return {}
    return parameter_values(load_template(main_template))


def load_params(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"params file {path} does not exist (every ENV needs templates/params/<env>.json)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"params file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(config, dict) or not isinstance(config.get("Parameters", {}), dict):
        raise ValueError(f"params file {path}: expected an object with a Parameters object")
    return config


def with_defaults(config: dict, defaults: dict[str, str]) -> dict:
    """The params file with main.yaml's defaults under its Parameters (what CloudFormation would use)."""
    return config | {"Parameters": defaults | config.get("Parameters", {})}


def profile_path(profile: str, traffic_dir: Path) -> Path:
    """A profile is a name (data/traffic/<name>.csv) or a path to a CSV."""
    candidate = Path(profile)
    if candidate.suffix == ".csv":
        return candidate
    path = traffic_dir / f"{profile}.csv"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in traffic_dir.glob("*.csv")))
        raise ValueError(f"traffic profile {profile!r} not found in {traffic_dir} (have: {known})")
    return path


def build_report(args: argparse.Namespace) -> tuple[dict, Simulation]:
    from inference_platform_ops.cost.model import CostConfig, UnitPrices
    from inference_platform_ops.cost.summary import budget_warning, secondary_regions, summarise
    from inference_platform_ops.cost.trace_sim import load_trace, simulate

    params_path = args.params or PARAMS / f"{args.env}.json"
    config = load_params(params_path)
    defaults = template_defaults(args.main_template)
    cfg = CostConfig.from_params(with_defaults(config, defaults), source=str(params_path))
    if args.profile:
        cfg = replace(cfg, traffic_profile=Path(args.profile).stem)
    trace_path = profile_path(args.profile or cfg.traffic_profile, args.traffic_dir)
    trace = load_trace(trace_path, cfg.window.timezone, args.week_start)
    prices = UnitPrices.for_config(cfg)
    sim = simulate(cfg, trace, prices, keep_warm_minutes=args.keep_warm_minutes)
    shown = trace_path.relative_to(ROOT) if trace_path.resolve().is_relative_to(ROOT) else trace_path
    secondary = secondary_regions(config, sim, str(params_path), defaults=defaults)
    summary = summarise(sim, prices, str(shown), secondary)
    over_budget = budget_warning(config, summary["environment_monthly_usd"])
    if over_budget:
        summary["warnings"].append(over_budget)
    return summary, sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment: reads templates/params/<env>.json")
    parser.add_argument("--params", type=Path, help="a params file instead of templates/params/<env>.json")
    parser.add_argument("--main-template", type=Path, default=TEMPLATES / "main.yaml",
                        help="template whose parameter defaults fill what the params file leaves out")
    parser.add_argument("--profile", help="traffic profile name or CSV path (default: CostProfile.TrafficProfile)")
    parser.add_argument("--traffic-dir", type=Path, default=TRAFFIC)
    parser.add_argument("--week-start", type=date.fromisoformat, default=date.fromisoformat(DEFAULT_WEEK),
                        help=f"Monday a weekly profile is laid on, in the business timezone (default {DEFAULT_WEEK})")
    parser.add_argument("--keep-warm-minutes", type=float, default=10.0,
                        help="idle minutes before serverless reclaims a container (an assumption; default 10)")
    parser.add_argument("--out-dir", type=Path, help="default build/cost-report/<env>")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (for CI)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)

    from inference_platform_ops.cost.summary import HOURLY_COLUMNS, hourly_rows

    try:
        summary, sim = build_report(args)
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"cost-report: {message}", file=sys.stderr)
        return 2
    out_dir = args.out_dir or BUILD / "cost-report" / (summary["environment"] or args.env)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_chart:
        from inference_platform_ops.cost.chart import write_week_chart

        chart = write_week_chart(sim, out_dir / "week.png")
        summary["chart"] = str(chart.relative_to(ROOT) if chart.resolve().is_relative_to(ROOT) else chart)
    with (out_dir / "hours.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HOURLY_COLUMNS)
        writer.writeheader()
        writer.writerows(hourly_rows(sim))
    text = json.dumps(summary, indent=2, allow_nan=False)  # strict JSON: CI tools reject NaN/Infinity
    (out_dir / "report.json").write_text(text + "\n")
    if args.json:
        print(text)
    else:
        from inference_platform_ops.cost.summary import render_table

        print(render_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
