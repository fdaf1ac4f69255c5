"""`python scripts/cost_report.py --env E [--profile P] [--json]`: the `inference-cost-report` console script."""

from inference_platform_ops.cost.report import main

raise SystemExit(main())
