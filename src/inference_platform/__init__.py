"""Cost-aware, resilient ML inference on AWS: routing, workflow handlers, cost controls, failover."""

__version__ = "0.1.0"
