"""A pretend AWS + Kubernetes for ``pulumi.runtime.set_mocks``.

``CloudMocks`` answers the program's invokes from what the account is said to hold (zones,
the caller, ECR images, a running Aurora cluster) and records every invoke it is asked, so a
test can hold the program to the few lookups whose answer may change between two runs. Each
resource's mocked state is its inputs plus what the cloud would compute (``mock_resources``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pulumi

from infra import mock_edge  # noqa: F401 - registers the edge's resource builders
from infra.mock_resources import ACCOUNT_ID, new_aws_resource, short_hash
from infra.registrar import registrar

CALLER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/order-platform-ci"
"""The IAM role behind the mocked caller's session unless a run names another."""
LOCAL_ZONE_SUFFIX = "-lhr-1a"
"""An opted-in Local Zone the account also holds: it sorts before the region's own zones."""


def image_digest(repository: str, tag: str) -> str:
    """The digest ECR reports for a pushed tag (deterministic here)."""
    return f"sha256:{hashlib.sha256(f'{repository}:{tag}'.encode()).hexdigest()}"


@dataclass(frozen=True)
class Invocation:
    """One provider function the program called, with its arguments."""

    token: str
    args: dict


class CloudMocks(pulumi.runtime.Mocks):
    """Mocks that return realistic outputs for every resource type the program creates."""

    def __init__(self, region: str, ecr: Mapping[str, Iterable[str]] | None = None,
                 caller_role: str = CALLER_ROLE,
                 databases: Mapping[str, str] | None = None,
                 clusters: Mapping[str, str] | None = None) -> None:
        self.region = region
        self.ecr = {repo: tuple(tags) for repo, tags in (ecr or {}).items()}
        """Repositories that exist in the account, with their pushed tags."""
        self.caller_role = caller_role
        """The IAM role whose session runs the program."""
        self.databases = dict(databases or {})
        """Aurora clusters that exist, by identifier, with the engine version they run."""
        self.clusters = dict(clusters or {})
        """EKS clusters that exist, by name, with the Kubernetes version they run."""
        self.invocations: list[Invocation] = []

    def call(self, args: pulumi.runtime.MockCallArgs):
        """Answer provider functions (invokes) the program uses, and note each one."""
        self.invocations.append(Invocation(args.token, dict(args.args)))
        answer = _INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock for invoke {args.token}")
        return answer(self, args.args)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        """Return (id, state) for a new resource: inputs plus computed attributes."""
        if args.typ.startswith("kubernetes:"):
            return _kubernetes(args, dict(args.inputs))
        if args.typ in _RANDOM:
            state = dict(args.inputs)
            resource_id, computed = _RANDOM[args.typ](args, state)
            return resource_id, {**state, **computed}
        return new_aws_resource(self, args)

    def arn(self, typ: str, name: str) -> str:
        """A plausible ARN for a type token like ``aws:ec2/vpc:Vpc``."""
        if not typ.startswith("aws:"):
            return f"urn:mock:{typ}:{name}"
        service = typ.split(":")[1].split("/", maxsplit=1)[0]
        kind = typ.split(":")[2].lower()
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{kind}/{name}"


Invoke = Callable[[CloudMocks, dict], dict]
_INVOKES: dict[str, Invoke] = {}


_invoke = registrar(_INVOKES)


def _filtered(args: dict, name: str) -> set[str] | None:
    values = [set(f["values"]) for f in args.get("filters") or [] if f["name"] == name]
    return set.intersection(*values) if values else None


@_invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def _availability_zones(m, args):
    """The region's zones a-f and an opted-in Local Zone, sorted as AWS lists them."""
    zones = [(f"{m.region}{c}", f"euw1-az{i + 1}", "opt-in-not-required")
             for i, c in enumerate("abcdef")]
    zones.append((f"{m.region}{LOCAL_ZONE_SUFFIX}", "euw1-lhr1-az1", "opted-in"))
    wanted = _filtered(args, "opt-in-status")
    kept = sorted(z for z in zones if wanted is None or z[2] in wanted)
    return {"names": [z[0] for z in kept], "zoneIds": [z[1] for z in kept],
            "groupNames": [m.region] * len(kept), "id": m.region, "state": "available"}


@_invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _caller_identity(m, args):
    role_name = m.caller_role.rsplit("/", 1)[-1]
    return {"accountId": ACCOUNT_ID, "userId": "AROAEXAMPLE:ci", "id": ACCOUNT_ID,
            "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/ci"}


@_invoke("aws:iam/getSessionContext:getSessionContext")
def _session_context(m, args):
    return {"arn": args["arn"], "issuerArn": m.caller_role, "id": args["arn"],
            "issuerId": "AROAEXAMPLE", "issuerName": m.caller_role.rsplit("/", 1)[-1],
            "sessionName": "ci"}


@_invoke("aws:eks/getAddonVersion:getAddonVersion")
def _addon_version(m, args):
    """Answered, so that a lookup put back fails tests/infra/test_versions.py by name: EKS's
    default build for the Kubernetes minor, or a newer one with ``mostRecent``."""
    minor = args["kubernetesVersion"].split(".")[1]
    build = int(short_hash(args["addonName"], 2), 16) % 9 + 1 + 2 * bool(args.get("mostRecent"))
    return {"addonName": args["addonName"], "id": args["addonName"],
            "kubernetesVersion": args["kubernetesVersion"],
            "mostRecent": bool(args.get("mostRecent")), "version": f"v1.{minor}.0-eksbuild.{build}"}


@_invoke("aws:ecr/getRepositories:getRepositories")
def _repositories(m, args):
    return {"names": sorted(m.ecr), "id": m.region, "region": m.region}


@_invoke("aws:ecr/getImages:getImages")
def _images(m, args):
    repository = args["repositoryName"]
    if repository not in m.ecr:
        raise ValueError(f"RepositoryNotFoundException: {repository}")
    return {"id": repository, "repositoryName": repository, "imageIds": [
        {"imageTag": tag, "imageDigest": image_digest(repository, tag)}
        for tag in m.ecr[repository]]}


@_invoke("aws:rds/getClusters:getClusters")
def _db_clusters(m, args):
    wanted = _filtered(args, "db-cluster-id")
    names = sorted(name for name in m.databases if wanted is None or name in wanted)
    return {"clusterIdentifiers": names, "id": m.region, "region": m.region,
            "clusterArns": [f"arn:aws:rds:{m.region}:{ACCOUNT_ID}:cluster:{n}" for n in names]}


@_invoke("aws:rds/getCluster:getCluster")
def _db_cluster(m, args):
    identifier = args["clusterIdentifier"]
    if identifier not in m.databases:
        raise ValueError(f"DBClusterNotFoundFault: {identifier}")
    return {"clusterIdentifier": identifier, "id": identifier, "engine": "aurora-postgresql",
            "engineVersion": m.databases[identifier]}


@_invoke("aws:eks/getClusters:getClusters")
def _eks_clusters(m, args):
    return {"names": sorted(m.clusters), "id": m.region, "region": m.region}


@_invoke("aws:eks/getCluster:getCluster")
def _eks_cluster(m, args):
    if args["name"] not in m.clusters:
        raise ValueError(f"ResourceNotFoundException: {args['name']}")
    return {"name": args["name"], "id": args["name"], "version": m.clusters[args["name"]]}


def _kubernetes(args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str, dict]:
    """Kubernetes objects come back as applied, with a uid; ids are ``namespace/name``."""
    if args.typ == "kubernetes:helm.sh/v3:Release":
        name, namespace = state.get("name") or args.name, state.get("namespace", "default")
        state["status"] = {"name": name, "namespace": namespace, "status": "deployed",
                           "version": state.get("version"), "revision": 1}
        return f"{namespace}/{name}", state
    metadata = dict(state.get("metadata") or {})
    metadata.setdefault("name", args.name)
    metadata["uid"] = short_hash(args.typ + args.name, 32)
    state["metadata"] = metadata
    namespace = metadata.get("namespace")
    rid = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
    return rid, state


def _random_password(args, state):
    """A password of the asked length, stable per logical name (letters and digits only)."""
    length = int(state.get("length", 16))
    digest = hashlib.sha256(f"password {args.name}".encode()).hexdigest()
    return "none", {"result": (digest * (length // len(digest) + 1))[:length],
                    "bcryptHash": f"$2a$10${short_hash(args.name, 53)}"}


def _random_id(args, state):
    """``byteLength`` random bytes, stable per logical name, as hex (and the id as base64url)."""
    hex_ = short_hash(f"random id {args.name}", 2 * int(state.get("byteLength", 4)))
    b64 = base64.urlsafe_b64encode(bytes.fromhex(hex_)).decode().rstrip("=")
    return b64, {"hex": hex_, "b64Url": b64, "b64Std": b64, "dec": str(int(hex_, 16))}


_RANDOM = {"random:index/randomPassword:RandomPassword": _random_password,
           "random:index/randomId:RandomId": _random_id}
