"""How every ops tool reaches AWS or the local emulator, with one-line errors when it cannot.

``endpoint_for`` decides where calls go (an explicit ``--endpoint-url``; for ENV=local the running emulator
of this checkout, or a one-line error); ``session_for`` builds the boto3 session: throwaway keys for the
emulator, the caller's own credentials otherwise -- checked once with ``sts:GetCallerIdentity`` so missing,
expired or unusable credentials are one line before anything is read or changed, never a row of failures
per check.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from inference_platform.shared.settings import ConfigError
from inference_platform_ops.emulator import local_aws


def endpoint_for(env: str, explicit: str | None, tool: str) -> str | None:
    """The endpoint URL to send calls to, or None for AWS itself."""
    if explicit or env != "local":
        return explicit
    try:
        return local_aws.endpoint_for(tool)
    except local_aws.EmulatorError as exc:
        raise ConfigError(str(exc).removeprefix(f"{tool}: ")) from None


def describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def session_for(env: str, endpoint: str | None, region: str) -> boto3.Session:
    """A session whose credentials work (checked once), or ConfigError with one line saying what to do."""
    if endpoint:  # the emulator accepts any key; never hand it real credentials
        return boto3.Session(**local_aws.EMULATOR_KEYS)
    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise ConfigError(f"AWS credentials for ENV={env} cannot be loaded: {describe(exc)}") from None
    if credentials is None:
        raise ConfigError(f"no AWS credentials for ENV={env}: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                          "AWS_SECRET_ACCESS_KEY, or run in GitHub Actions with the OIDC role; nothing was done")
    try:
        session.client("sts", region_name=region).get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"the AWS credentials for ENV={env} do not work ({describe(exc)}); "
                          "nothing was done") from None
    return session
