"""In-process Lambdas change os.environ while moto's Step Functions threads create boto3 clients.

botocore copies the environment for every new client; without the emulator's atomic copy, a name
removed by a finishing handler made that copy raise KeyError, which moto turned into a States.Runtime
failure of an unrelated Map item (seen as a flaky workflow test).
"""

from __future__ import annotations

import os
import threading
import time

from inference_platform_ops.emulator.lambdas import _function_environment, in_process_lambdas


def _copy_errors_while_handlers_come_and_go(seconds: float = 0.3, read=None) -> int:
    deadline = time.monotonic() + seconds
    errors: list[KeyError] = []

    def handlers() -> None:
        while time.monotonic() < deadline:
            with _function_environment({f"EMULATOR_RACE_{i}": "x" for i in range(20)}):
                pass

    def client_creation() -> None:
        while time.monotonic() < deadline:
            try:
                (read or os.environ.copy)()  # looked up now: the emulator patches the class
            except KeyError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=handlers), threading.Thread(target=client_creation)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(errors)


def test_environment_copies_never_fail_while_handlers_run():
    with in_process_lambdas():
        assert _copy_errors_while_handlers_come_and_go() == 0


def test_proxy_lookups_never_fail_while_handlers_run():
    """botocore looks up proxies for every new client: urllib iterates os.environ.items() (seen as
    States.Runtime "'AWS_REGION'" in a Map item of a workflow test)."""
    from urllib.request import getproxies_environment

    with in_process_lambdas():
        assert _copy_errors_while_handlers_come_and_go(read=getproxies_environment) == 0


def test_function_environment_is_restored_name_by_name():
    os.environ["EMULATOR_KEPT"] = "before"
    try:
        with _function_environment({"EMULATOR_KEPT": "during", "EMULATOR_ADDED": "during"}):
            assert (os.environ["EMULATOR_KEPT"], os.environ["EMULATOR_ADDED"]) == ("during", "during")
        assert os.environ["EMULATOR_KEPT"] == "before" and "EMULATOR_ADDED" not in os.environ
    finally:
        os.environ.pop("EMULATOR_KEPT", None)
