"""Reading the running platform: each process's ``/metrics``, and each queue's depth straight
from the AWS emulator (SQS knows its depth better than any process does). Whatever does not
answer within a short timeout is reported as down, never raised."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from order_local.live.figures import Depth, Snapshot
from order_local.live.metrics import Samples, parse
from order_local.ports import Ports
from order_local.provision import LOCAL_ACCESS_KEY, LocalAws
from order_platform import telemetry, topology
from order_platform.processes import DEPLOYED

TIMEOUT_SECONDS = 0.5
"""Well under the refresh interval, so a frozen process cannot stall the view."""


def metrics_urls(ports: Ports) -> dict[str, str]:
    """Where each running process answers Prometheus, by role."""
    return {p.role: f"{ports.url(p.role)}{telemetry.METRICS_PATH}" for p in DEPLOYED}


def scrape(url: str) -> tuple[bool, Samples | None]:
    """Whether the process at ``url`` answers, and its samples (None when it does not answer,
    or answers but not with Prometheus text: it is up, its figures are unknown)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            return True, parse(resp.read().decode())
    except urllib.error.HTTPError:
        return True, None
    except ValueError:  # not the exposition format
        return True, None
    except OSError:  # refused or timed out
        return False, None


class QueueDepths:
    """The topology's queues in the local emulator; their URLs are looked up once it answers."""

    def __init__(self, aws: LocalAws) -> None:
        import boto3
        from botocore.config import Config

        self._aws = aws
        self._sqs = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=aws.region,
        ).client("sqs", endpoint_url=aws.endpoint_url, config=Config(
            connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS,
            retries={"max_attempts": 1}))
        self._urls: dict[str, tuple[str, str]] = {}

    def _url(self, name: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError:  # not created (yet): the platform may predate a topology change
            return None

    def _depth(self, queue: topology.Queue) -> Depth | None:
        from order_platform.entrypoints.dlq import depth

        prefix = self._aws.prefix
        urls = self._urls.get(queue.key)
        if urls is None:
            own_url, dlq_url = self._url(queue.name(prefix)), self._url(queue.dlq_name(prefix))
            if own_url is None or dlq_url is None:
                return None
            urls = self._urls[queue.key] = (own_url, dlq_url)
        own, dead = depth(self._sqs, urls[0]), depth(self._sqs, urls[1])
        return Depth(own["visible"], own["in_flight"],
                     dead["visible"] + dead["in_flight"] + dead["delayed"])

    def read(self) -> dict[str, Depth | None] | None:
        """Each queue's depth by topology key (None for a queue the emulator does not have);
        None when the emulator does not answer."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return {q.key: self._depth(q) for q in topology.QUEUES}
        except (BotoCoreError, ClientError):
            self._urls.clear()  # a restarted emulator may have made them anew
            return None


def snapshot(urls: dict[str, str], queues: QueueDepths, pool: ThreadPoolExecutor) -> Snapshot:
    """Every process and the queues, read at once (in parallel, each within its timeout)."""
    scraped = {role: pool.submit(scrape, url) for role, url in urls.items()}
    depths = queues.read()
    answers = {role: future.result() for role, future in scraped.items()}
    return Snapshot(at=time.monotonic(), up={role: up for role, (up, _) in answers.items()},
                    metrics={role: samples for role, (_, samples) in answers.items()},
                    queues=depths)
