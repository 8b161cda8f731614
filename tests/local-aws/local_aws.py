#!/usr/bin/env python3
"""Local AWS emulator for the tests, the local demo and the benchmark.

One process, one loopback port. Every AWS call is identified (service and
operation), recorded, optionally delayed or failed on purpose, answered by a
canned stub or by the few APIs served here (CodePipeline job results and
pipeline state, CodeDeploy hooks, CloudWatch DescribeAlarms over Smithy RPC v2
CBOR, the ECR layer API with its blob downloads, ECR ListImageReferrers, Signer
GetRevocationStatus), and otherwise forwarded to
moto's server app. A small JSON control API under /_local/ drives all of this;
see README.md next to this file.

Usage: python3 local_aws.py [--host 127.0.0.1] [--port 0]
Prints exactly one line, "LOCAL_AWS_READY port=<N>", once it accepts
connections. Exits when stdin reaches EOF, and on SIGTERM/SIGINT.
"""

import argparse
import base64
import copy
import datetime
import gzip
import hashlib
import io
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from urllib.parse import parse_qs, quote, unquote

import cbor2
import rehearsal
from sts import Sts
from werkzeug.exceptions import InternalServerError
from werkzeug.http import HTTP_STATUS_CODES, http_date
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import create_environ

_T0 = time.monotonic()


def now_ms():
    """Milliseconds since the emulator started (monotonic clock)."""
    return (time.monotonic() - _T0) * 1000.0


# Names accepted in faults and stubs besides the SigV4 signing names.
SERVICE_ALIASES = {"cloudwatch": "monitoring", "elbv2": "elasticloadbalancing"}
# awsJson target prefixes / CBOR service names -> signing name (unsigned calls).
API_SERVICES = {
    "CodePipeline_20150709": "codepipeline",
    "CodeDeploy_20141006": "codedeploy",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "GraniteServiceVersion20100801": "monitoring",
}
# One cheap read per service the project uses, to load moto's backends early
# (--warm): (signing name, awsJson target or None, body).
WARM_UP = [
    ("s3", None, b""),
    ("ecr", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", b"{}"),
    ("ecs", "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}"),
    ("codepipeline", "CodePipeline_20150709.ListPipelines", b"{}"),
    ("codedeploy", "CodeDeploy_20141006.ListApplications", b"{}"),
    ("kms", "TrentService.ListKeys", b"{}"),
    ("sts", None, b"Action=GetCallerIdentity&Version=2011-06-15"),
    ("ec2", None, b"Action=DescribeVpcs&Version=2016-11-15"),
    ("elasticloadbalancing", None, b"Action=DescribeLoadBalancers&Version=2015-12-01"),
]
CBOR_PATH = re.compile(r"(?:/.*)?/service/([^/]+)/operation/([^/]+)\Z")
CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
OUTPUT_VARIABLE_KEY = re.compile(r"[A-Za-z0-9@\-_]+\Z")
FAILURE_TYPES = {
    "JobFailed", "ConfigurationError", "PermissionError",
    "RevisionOutOfSync", "RevisionUnavailable", "SystemUnavailable",
}
FAULT_KINDS = {"throttle", "error", "deny", "reset", "delay", "cut"}
# (status, code, message) per protocol for the "throttle", "error" and "deny" faults.
FAULTS = {
    "throttle": {
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "cbor": (400, "ThrottlingException", "Rate exceeded"),
        "query": (400, "Throttling", "Rate exceeded"),
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "s3": (503, "SlowDown", "Please reduce your request rate."),
    },
    "deny": {
        "json": (400, "AccessDeniedException", "User is not authorized to perform this action"),
        "cbor": (400, "AccessDeniedException", "User is not authorized to perform this action"),
        "query": (403, "AccessDenied", "User is not authorized to perform this action"),
        "ec2": (403, "UnauthorizedOperation", "You are not authorized to perform this operation."),
        "s3": (403, "AccessDenied", "Access Denied"),
    },
    "error": {
        "json": (500, "InternalFailure", "An internal error occurred."),
        "cbor": (500, "InternalFailure", "An internal error occurred."),
        "query": (500, "InternalFailure", "An internal error occurred."),
        "ec2": (500, "InternalError", "An internal error has occurred."),
        "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
    },
}
# (code, message, status) per protocol for a call signed with expired credentials.
EXPIRED = {
    "json": ("ExpiredTokenException", "The security token included in the request is expired", 400),
    "cbor": ("ExpiredTokenException", "The security token included in the request is expired", 400),
    "query": ("ExpiredToken", "The security token included in the request is expired", 403),
    "ec2": ("RequestExpired", "Request has expired.", 400),
    "s3": ("ExpiredToken", "The provided token has expired.", 400),
}
# S3 sub-resources (query keys) that name an operation: GetBucketPolicy, ...
S3_SUBRESOURCES = (
    "tagging", "acl", "policy", "versioning", "location", "lifecycle", "encryption",
    "cors", "website", "notification", "logging", "replication", "object-lock",
    "retention", "legal-hold", "attributes", "ownershipControls", "publicAccessBlock",
    "accelerate", "requestPayment", "restore", "select",
)
# CloudWatch members modelled as doubles: JSON integers there become CBOR floats.
CBOR_DOUBLES = {"Threshold", "Average", "Sum", "Minimum", "Maximum", "SampleCount", "Values"}

ECR_API = "AmazonEC2ContainerRegistry_V20150921"
DEFAULT_ACCOUNT = "123456789012"
REGISTRY_ID = re.compile(r"[0-9]{12}\Z")
# An OCI digest: algorithm ":" encoded hash.
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
# ECR's layer part sizes: what InitiateLayerUpload suggests, the least a part other
# than the last may be (checked by CompleteLayerUpload), the most any part may be.
ECR_PART_SIZE = 10 * 1024 * 1024
ECR_MIN_PART_SIZE = 5 * 1024 * 1024
ECR_MAX_PART_SIZE = 20 * 1024 * 1024
# Where GetDownloadUrlForLayer points: /_local/ecr-blobs/<account>/<region>/<repository>/<digest>.
BLOB_PATH = "/_local/ecr-blobs/"
BLOB_URL_SECONDS = 3600
RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")
ARTIFACT_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY")
# ListImageReferrers' page size when maxResults is not given.
REFERRERS_PAGE = 20
# REST calls served here: (signing name, method, path) -> (operation, query keys that repeat).
REST_OPERATIONS = {
    ("signer", "GET", "/revocations"): ("GetRevocationStatus", {"certificateHashes"}),
}
REVOCATION_FIELDS = ("signatureTimestamp", "platformId", "profileVersionArn", "jobArn", "certificateHashes")


class ApiError(Exception):
    """An AWS error answered in the caller's protocol; `fields` are the error's own
    members (awsJson and CBOR only)."""

    def __init__(self, code, message, status=400, fields=None):
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields or {}


class Forward(Exception):
    """Raised by a built-in that has nothing scripted for a request: moto answers it."""


def GATE_STATE_DEFAULTS():
    """The health gate's scripted state (see README.md, "Deployment health")."""
    return {"serviceDeployments": [], "serviceRevisions": {}, "targetHealth": {}, "metricData": {},
            "codedeployDeployments": {}, "deploymentGroups": {}}


class Call:
    """What one incoming AWS request is."""

    service = "unknown"
    operation = "unknown"
    protocol = "json"  # json | cbor | query | ec2 | s3 | rest | rest-json (served here)
    api = ""           # awsJson target prefix or CBOR service name
    content_type = ""
    request = None     # decoded JSON/CBOR body, for the log and stub matching
    params = None      # awsQuery/EC2 parameters, for stub matching
    access_key = ""    # from the SigV4 credential: moto's account for the caller
    moto_account = None  # x-moto-account-id, which moto prefers to the access key
    account = None     # the account the call acts in (_caller_account), in the call log
    region = ""        # from the SigV4 credential scope
    base_url = ""      # scheme://host:port the caller reached us at


# ---------------------------------------------------------------- encoding

def _jsonable(value):
    """CBOR-decoded value -> JSON value (timestamps as epoch seconds, blobs base64)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, cbor2.CBORTag):
        return _jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is cbor2.undefined:
        return None
    return value


def _epoch(value):
    """Epoch seconds from a number or an ISO-8601 string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    return None


def _to_cbor(value, key=""):
    """JSON value -> CBOR-ready value, following the RPC v2 CBOR rules: nulls
    omitted, members named *Timestamp(s) as tag 1 with a float (the Rust SDK
    reads timestamps as floats), known double members as floats."""
    if isinstance(value, dict):
        return {k: _to_cbor(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_cbor(v, key) for v in value if v is not None]
    if key.endswith(("Timestamp", "Timestamps")) and _epoch(value) is not None:
        return cbor2.CBORTag(1, _epoch(value))
    if key in CBOR_DOUBLES and not isinstance(value, bool):
        if isinstance(value, int) or value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
    return value


def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _to_query_xml(value):
    """JSON value -> awsQuery XML members (lists as <member> items)."""
    if isinstance(value, dict):
        return "".join(f"<{k}>{_to_query_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join(f"<member>{_to_query_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _xml_escape(str(value))


def _matches(want, got):
    """True when `want` is a subset of `got` (dicts compared recursively)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _matches(v, got[k]) for k, v in want.items())
    return want == got


def _response(status, headers, body):
    return status, headers, body if isinstance(body, bytes) else body.encode()


def ok_response(call, data):
    """A successful answer in the caller's protocol. A str body is sent as is."""
    rid = str(uuid.uuid4())
    if isinstance(data, str):
        kind = "application/xml" if data.lstrip().startswith("<") else "text/plain"
        return _response(200, [("Content-Type", kind), ("x-amzn-RequestId", rid)], data)
    if call.protocol == "cbor":
        return _response(200, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                               ("x-amzn-RequestId", rid)], cbor2.dumps(_to_cbor(data)))
    if call.protocol == "query":
        op = call.operation
        xml = (f"<{op}Response><{op}Result>{_to_query_xml(data)}</{op}Result>"
               f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{op}Response>")
        return _response(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml)
    return _response(200, [("Content-Type", _json_content_type(call)), ("x-amzn-RequestId", rid)],
                     json.dumps(data))


def error_response(call, code, message, status, fields=None):
    """An AWS error in the caller's protocol; `fields` are extra error members
    (awsJson and CBOR)."""
    rid = str(uuid.uuid4())
    code_x, msg_x = _xml_escape(code), _xml_escape(message)
    if call.protocol == "cbor":
        return _response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                  ("x-amzn-RequestId", rid)],
                         cbor2.dumps({"__type": code, "message": message, **(fields or {})}))
    if call.protocol == "s3":
        xml = f"<Error><Code>{code_x}</Code><Message>{msg_x}</Message><RequestId>{rid}</RequestId></Error>"
        return _response(status, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], xml)
    if call.protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        xml = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code_x}</Code><Message>{msg_x}</Message>"
               f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return _response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml)
    if call.protocol == "ec2":
        xml = (f"<Response><Errors><Error><Code>{code_x}</Code><Message>{msg_x}</Message></Error>"
               f"</Errors><RequestID>{rid}</RequestID></Response>")
        return _response(status, [("Content-Type", "text/xml")], xml)
    return _response(status, [("Content-Type", _json_content_type(call)), ("x-amzn-RequestId", rid),
                              ("x-amzn-ErrorType", code)],
                     json.dumps({"__type": code, "message": message, **(fields or {})}))


def _json_content_type(call):
    if call.protocol == "rest-json":
        return "application/json"
    return call.content_type if call.content_type.startswith("application/x-amz-json") \
        else "application/x-amz-json-1.1"


# ---------------------------------------------------------------- requests

def read_body(environ):
    """Read the whole request body once and put it back for whoever reads next."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def s3_operation(method, path, query, environ):
    """Best-effort S3 operation name for a path-style request."""
    bucket, _, key = path.lstrip("/").partition("/")
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    sub = next((s for s in S3_SUBRESOURCES if s in query), "")
    sub = "".join(w[:1].upper() + w[1:] for w in sub.split("-"))
    copy_source = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if not bucket:
        return "ListBuckets" if method == "GET" else verb
    if key:
        if "uploadId" in query:
            return {"PUT": "UploadPartCopy" if copy_source else "UploadPart", "GET": "ListParts",
                    "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(method, verb)
        if method == "POST" and "uploads" in query:
            return "CreateMultipartUpload"
        if method == "PUT" and copy_source and not sub:
            return "CopyObject"
        return f"{verb}Object{sub}"
    if method == "GET" and "versions" in query:
        return "ListObjectVersions"
    if method == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET" and not sub:
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "PUT" and not sub:
        return "CreateBucket"
    return f"{verb}Bucket{sub}"


def _decode(body, environ, decoder):
    if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):
        body = gzip.decompress(body)
    return decoder(body) if body.strip() else {}


# ---------------------------------------------------------------- accounts
# Everything the emulator plays itself is kept per account, as moto keeps its own state:
# a call sees the items of the account it acts in (its caller account) and nothing else.
# A seeded item belongs to the account its seed names ("account" on the item, else on
# the body), else to the account in its ARN, else to the home account.

def _home_account():
    """The account of seeds that name none: moto's, 123456789012 unless MOTO_ACCOUNT_ID."""
    return os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT


def _arn_account(arn):
    """The account field of an ARN (`arn:aws:<service>:<region>:<account>:...`), or None."""
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and REGISTRY_ID.match(parts[4]) else None


def _arn_region(arn):
    """The region field of an ARN, or None (IAM's and S3's have none)."""
    parts = str(arn or "").split(":")
    return parts[3] or None if len(parts) > 5 and parts[0] == "arn" else None


def _seed_account(spec):
    """The `account` a seed (a body or an item) names, or None; it must be 12 digits."""
    account = spec.get("account") if isinstance(spec, dict) else None
    if account is not None and not (isinstance(account, str) and REGISTRY_ID.match(account)):
        raise ValueError(f"account must be a 12-digit account id, not {account!r}")
    return account


def _owner(named, arn=None):
    """The account a seeded item belongs to: the one its seed names, else its ARN's, else
    the home account. A seed that names another account than the item's ARN is refused."""
    in_arn = _arn_account(arn)
    if named and in_arn and named != in_arn:
        raise ValueError(f"{arn} is in account {in_arn}, but the seed says account {named}")
    return named or in_arn or _home_account()


class AccountState:
    """What the emulator plays for one account (lock: LocalAws.lock)."""

    def __init__(self, account, region):
        self.account, self.region = account, region
        # CodePipeline states (GetPipelineState) and CloudWatch alarms (DescribeAlarms)
        self.state = {"pipelines": {}, "alarms": []}
        # the health gate's scripted deployments, and scripted timeline -> calls served so far
        self.gate_state = GATE_STATE_DEFAULTS()
        self.gate_calls = {}
        # scripted service deployment ARN -> the answers given to its pause hooks:
        # {"hooks": {hookId: status}, "status": the deployment's status after a ROLLBACK}
        self.gate_continued = {}
        # deployment histories: "cluster/service" -> [deployment]; revision ARN -> revision
        self.ecs_deployments, self.ecs_revisions = {}, {}
        # "application/group" -> [deployment], newest last
        self.cd_groups = {}
        # pipeline -> [execution summary + "succeededInStages"], newest first
        self.executions = {}
        self.alarm_tags = {}

    def histories(self):
        return copy.deepcopy({"ecs": self.ecs_deployments, "ecsRevisions": self.ecs_revisions,
                              "codedeploy": self.cd_groups, "pipelineExecutions": self.executions,
                              "alarmTags": self.alarm_tags})

    # ---- ECS service deployments

    def ecs_add(self, key, name, task_definition, status, created, region):
        cluster, service = key.split("/", 1)
        base = f"arn:aws:ecs:{region}:{self.account}"
        revision = {"serviceRevisionArn": f"{base}:service-revision/{key}/{name}",
                    "serviceArn": f"{base}:service/{key}", "clusterArn": f"{base}:cluster/{cluster}",
                    "taskDefinition": task_definition, "createdAt": created}
        self.ecs_revisions[revision["serviceRevisionArn"]] = revision
        previous = [d for d in self.ecs_deployments[key] if d["status"] == "SUCCESSFUL"][-1:]
        deployment = {"serviceDeploymentArn": f"{base}:service-deployment/{key}/{name}",
                      "serviceArn": revision["serviceArn"], "clusterArn": revision["clusterArn"],
                      "createdAt": created, "startedAt": created, "status": status,
                      "targetServiceRevision": {"arn": revision["serviceRevisionArn"]},
                      "sourceServiceRevisions": [{"arn": p["targetServiceRevision"]["arn"]} for p in previous]}
        self.ecs_deployments[key].append(deployment)
        return deployment

    def ecs_find(self, arn):
        for deployments in self.ecs_deployments.values():
            for d in deployments:
                if d["serviceDeploymentArn"] == arn:
                    return d
        raise ApiError("ServiceDeploymentNotFoundException", f"Service deployment {arn} was not found.")

    # ---- CodeDeploy deployment groups

    def cd_add(self, key, deployment_id, status, revision, created, creator, description):
        application, group = key.split("/", 1)
        d = {"deploymentId": deployment_id, "applicationName": application, "deploymentGroupName": group,
             "status": status, "revision": revision, "createTime": created, "creator": creator}
        if description is not None:
            d["description"] = description
        self.cd_groups[key].append(d)
        return d

    def cd_find(self, deployment_id):
        for deployments in self.cd_groups.values():
            for d in deployments:
                if d["deploymentId"] == deployment_id:
                    return d
        return None

    def cd_info(self, d):
        """GetDeployment's deploymentInfo: previousRevision is the revision of the newest
        deployment that succeeded before this one."""
        info = copy.deepcopy(d)
        earlier = [e for e in self.cd_groups[f"{d['applicationName']}/{d['deploymentGroupName']}"]
                   if e["status"] == "Succeeded" and e["createTime"] < d["createTime"]]
        if earlier:
            info["previousRevision"] = copy.deepcopy(earlier[-1]["revision"])
        return info


# ---------------------------------------------------------------- deployment histories
# What a rollback looks at and writes, seeded through POST /_local/deployments: ECS
# service deployments and revisions, CodeDeploy deployment groups and their deployments,
# CodePipeline executions, and alarm tags, each in its account (AccountState). A call
# about something not seeded in its account goes on as before (moto, or the older
# built-in answer).

ECS_ACTIVE = ("PENDING", "IN_PROGRESS")
ECS_STOPPING = ("STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
CODEDEPLOY_ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


class ForwardToMoto(Exception):
    """A built-in that does not know the resource: let moto answer."""


def _last(name):
    """The name at the end of an ARN (`.../cluster/service` -> `service`), or the name."""
    return str(name or "").rsplit("/", 1)[-1]


def _execution(spec):
    """A seeded pipeline execution summary, its times as epoch seconds."""
    execution = dict(spec)
    for field in ("startTime", "lastUpdateTime"):
        execution[field] = _epoch(execution.get(field)) or time.time()
    return execution


class DeploymentHistories:
    """Mixin of LocalAws: the deployment histories and their APIs (lock: self.lock)."""

    def _in(self, account, region=None):
        """The played state of `account` in `region` (default: the home region; a Call:
        its caller account and its region). Each region of an account is its own, as in
        AWS: a service of the same name in two regions has two deployment histories."""
        if isinstance(account, Call):
            account, region = account.account or _caller_account(account), region or account.region
        key = (account, region or _default_region())
        state = self.accounts.get(key)
        if state is None:
            state = self.accounts.setdefault(key, AccountState(*key))
        return state

    def _histories_control(self, method, data, query):
        """Control API: POST /_local/deployments seeds (and merges); GET shows one account's."""
        with self.lock:
            if method == "GET":
                return 200, self._in(_owner(_seed_account({"account": query.get("account", [None])[0]}))).histories()
            top = _seed_account(data)
            for service in data.get("ecsServices", []):
                self._seed_ecs(service, _owner(_seed_account(service) or top))
            for arn, status in data.get("ecsStatus", {}).items():
                self._in(_owner(top, arn), _arn_region(arn)).ecs_find(arn)["status"] = status
            for group in data.get("codedeployGroups", []):
                self._seed_codedeploy(group, _owner(_seed_account(group) or top))
            for deployment_id, status in data.get("codedeployStatus", {}).items():
                self._in(_owner(top)).cd_find(deployment_id)["status"] = status
            for pipeline, executions in data.get("pipelineExecutions", {}).items():
                self._in(_owner(top)).executions[pipeline] = sorted((_execution(e) for e in executions),
                                                                    key=lambda e: -e["startTime"])
            for arn, tags in data.get("alarmTags", {}).items():
                self._in(_owner(top, arn), _arn_region(arn)).alarm_tags[arn] = tags
            self._in(_owner(top)).state["pipelines"].update(data.get("pipelineStates", {}))
            return 200, self._in(_owner(top)).histories()

    # ---- ECS service deployments

    def _seed_ecs(self, spec, account):
        cluster, service = spec["cluster"], spec["service"]
        key, region = f"{cluster}/{service}", spec.get("region", _default_region())
        a = self._in(account, region)
        a.ecs_deployments[key] = []
        for d in spec.get("deployments", []):
            added = a.ecs_add(key, d["id"], d["taskDefinition"], d.get("status", "SUCCESSFUL"),
                              _epoch(d.get("createdAt")) or time.time(), region)
            # A deployment paused at a hook: its stage, hooks and configuration as given.
            for field in ("lifecycleStage", "lifecycleHookDetails", "deploymentConfiguration"):
                if field in d:
                    added[field] = copy.deepcopy(d[field])

    def list_service_deployments(self, req, call):
        key = f"{_last(req.get('cluster') or 'default')}/{_last(req.get('service'))}"
        statuses, window = req.get("status"), req.get("createdAt") or {}
        with self.lock:
            # A service with no history (never deployed since, or a CODE_DEPLOY
            # controller): ECS answers an empty list.
            found = [d for d in reversed(self._in(call).ecs_deployments.get(key, []))
                     if (not statuses or d["status"] in statuses)
                     and (window.get("after") is None or d["createdAt"] >= _epoch(window["after"]))
                     and (window.get("before") is None or d["createdAt"] <= _epoch(window["before"]))]
        limit = int(req.get("maxResults") or 20)
        if not 1 <= limit <= 100:
            raise _validation(limit, "maxResults", "Member must have value between 1 and 100")
        briefs = [{"serviceDeploymentArn": d["serviceDeploymentArn"], "serviceArn": d["serviceArn"],
                   "clusterArn": d["clusterArn"], "createdAt": d["createdAt"], "startedAt": d["startedAt"],
                   "status": d["status"], "targetServiceRevisionArn": d["targetServiceRevision"]["arn"]}
                  for d in found[:limit]]
        return {"serviceDeployments": briefs}

    def describe_service_deployments(self, req, call):
        found, failures = [], []
        with self.lock:
            a = self._in(call)
            for arn in req.get("serviceDeploymentArns") or []:
                try:
                    found.append(copy.deepcopy(a.ecs_find(arn)))
                except ApiError:
                    failures.append({"arn": arn, "reason": "MISSING"})
        return {"serviceDeployments": found, "failures": failures}

    def describe_service_revisions(self, req, call):
        arns = req.get("serviceRevisionArns") or []
        if not 1 <= len(arns) <= 20:
            raise _validation(None, "serviceRevisionArns", "Member must have length between 1 and 20")
        with self.lock:
            known = self._in(call).ecs_revisions
            found = [copy.deepcopy(known[a]) for a in arns if a in known]
            missing = [a for a in arns if a not in known]
        return {"serviceRevisions": found, "failures": [{"arn": a, "reason": "MISSING"} for a in missing]}

    def continue_service_deployment(self, req, call):
        """A paused deployment goes on (CONTINUE: the hook SUCCEEDED) or rolls back
        (ROLLBACK: the hook FAILED, the deployment ROLLBACK_IN_PROGRESS). The hook must be
        a PAUSE hook AWAITING_ACTION of a deployment IN_PROGRESS (continue-service-deployment
        in the ECS developer guide). Scripted deployments (POST /_local/state) and seeded
        histories (POST /_local/deployments) both play it."""
        arn, hook_id = req.get("serviceDeploymentArn"), req.get("hookId")
        action = req.get("action") or "CONTINUE"
        if not arn:
            raise _validation(None, "serviceDeploymentArn", "Member must not be null")
        if not hook_id:
            raise _validation(None, "hookId", "Member must not be null")
        if action not in ("CONTINUE", "ROLLBACK"):
            raise _validation(action, "action", "Member must satisfy enum value set: [ROLLBACK, CONTINUE]")
        with self.lock:
            a = self._in(call)
            scripted = next((e for e in a.gate_state["serviceDeployments"] if e["serviceDeploymentArn"] == arn), None)
            d = self._gate_service_deployment(a, scripted, advance=False) if scripted else a.ecs_find(arn)
            hook = next((h for h in d.get("lifecycleHookDetails") or [] if h.get("hookId") == hook_id), None)
            if hook is None or hook.get("targetType") != "PAUSE":
                raise ApiError("InvalidParameterException",
                               f"The service deployment {arn} has no pause hook {hook_id}.")
            if hook.get("status") != "AWAITING_ACTION" or d.get("status") != "IN_PROGRESS":
                raise ApiError("InvalidParameterException",
                               f"The pause hook {hook_id} is {hook.get('status')} and the service deployment "
                               f"{d.get('status')}: only a hook in AWAITING_ACTION of a deployment in "
                               "IN_PROGRESS can be continued or rolled back.")
            status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
            if scripted:
                answered = a.gate_continued.setdefault(arn, {"hooks": {}})
                answered["hooks"][hook_id] = status
                if action == "ROLLBACK":
                    answered["status"] = "ROLLBACK_IN_PROGRESS"
            else:
                hook["status"] = status
                if action == "ROLLBACK":
                    source = (d.get("sourceServiceRevisions") or [{}])[0].get("arn")
                    d["status"] = "ROLLBACK_IN_PROGRESS"
                    d["rollback"] = {"reason": f"pause hook {hook_id} answered ROLLBACK", "startedAt": time.time(),
                                     "serviceRevisionArn": source}
            return {"serviceDeploymentArn": arn}

    def stop_service_deployment(self, req, call):
        stop_type = req.get("stopType") or "ROLLBACK"
        with self.lock:
            d = self._in(call).ecs_find(req.get("serviceDeploymentArn"))
            if d["status"] in ECS_ACTIVE:
                d["status"] = "ROLLBACK_REQUESTED" if stop_type == "ROLLBACK" else "STOP_REQUESTED"
                if stop_type == "ROLLBACK":
                    source = (d.get("sourceServiceRevisions") or [{}])[0].get("arn")
                    d["rollback"] = {"reason": "stopped with ROLLBACK", "startedAt": time.time(),
                                     "serviceRevisionArn": source}
            elif d["status"] not in ECS_STOPPING:  # a stop of a running stop continues it
                raise ApiError("ConflictException", f"The service deployment is {d['status']}: "
                                                    "it has finished and cannot be stopped.")
            return {"serviceDeploymentArn": d["serviceDeploymentArn"]}

    def update_service(self, req, call):
        """A seeded service: a new IN_PROGRESS deployment of the task definition (the one
        running is replaced: STOPPED); moto's copy of the service is updated too, if any."""
        key = f"{_last(req.get('cluster') or 'default')}/{_last(req.get('service'))}"
        with self.lock:
            tracked = key in self._in(call).ecs_deployments
        if not tracked or not req.get("taskDefinition"):
            raise ForwardToMoto()
        moto = self._moto_json(call, req)
        with self.lock:
            a = self._in(call)
            for d in a.ecs_deployments[key]:
                if d["status"] in ECS_ACTIVE:
                    d["status"] = "STOPPED"
            name = f"d-{uuid.uuid4().hex[:12]}"
            d = a.ecs_add(key, name, req["taskDefinition"], "IN_PROGRESS", time.time(),
                          call.region or _default_region())
        service = moto.get("service") or {"serviceName": key.split("/", 1)[1], "serviceArn": d["serviceArn"],
                                          "clusterArn": d["clusterArn"], "status": "ACTIVE"}
        service["taskDefinition"] = req["taskDefinition"]
        return {"service": service}

    def _moto_json(self, call, req):
        """The same awsJson call answered by moto, as a dict ({} when moto refuses it)."""
        headers = {"X-Amz-Target": f"{call.api}.{call.operation}",
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={call.access_key or 'LOCAL'}/20000101/"
                                    f"{call.region or _default_region()}/{call.service}/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        if call.moto_account:
            headers["x-moto-account-id"] = call.moto_account
        status, _, body = run_wsgi(self.moto, create_environ(
            "/", method="POST", headers=headers, data=json.dumps(req).encode(),
            content_type="application/x-amz-json-1.1"))
        try:
            return json.loads(body) if status == 200 else {}
        except ValueError:
            return {}

    # ---- CodeDeploy deployment groups

    def _seed_codedeploy(self, spec, account):
        key = f"{spec['application']}/{spec['group']}"
        a = self._in(account)
        a.cd_groups[key] = []
        for d in spec.get("deployments", []):
            a.cd_add(key, d.get("id") or f"d-{uuid.uuid4().hex[:9].upper()}", d.get("status", "Succeeded"),
                     d.get("revision") or {}, _epoch(d.get("createTime")) or time.time(),
                     d.get("creator", "user"), d.get("description"))

    def get_deployment_group(self, req, call):
        key = f"{req.get('applicationName')}/{req.get('deploymentGroupName')}"
        with self.lock:
            deployments = self._in(call).cd_groups.get(key)
            if deployments is None:
                raise ForwardToMoto()
            brief = lambda d: {"deploymentId": d["deploymentId"], "status": d["status"],  # noqa: E731
                               "createTime": d["createTime"]}
            info = {"applicationName": req["applicationName"], "deploymentGroupName": req["deploymentGroupName"]}
            if deployments:
                info["lastAttemptedDeployment"] = brief(deployments[-1])
            succeeded = [d for d in deployments if d["status"] == "Succeeded"]
            if succeeded:
                info["lastSuccessfulDeployment"] = brief(succeeded[-1])
            return {"deploymentGroupInfo": info}

    def get_deployment(self, req, call):
        with self.lock:
            a = self._in(call)
            d = a.cd_find(req.get("deploymentId"))
            if d is None:
                raise ForwardToMoto()
            return {"deploymentInfo": a.cd_info(d)}

    def stop_tracked_deployment(self, req, call):
        """StopDeployment of a seeded deployment: Stopped; with autoRollbackEnabled, a
        rollback deployment of the previous revision (rollbackInfo on both)."""
        with self.lock:
            a = self._in(call)
            d = a.cd_find(req.get("deploymentId"))
            if d is None:
                return self.stop_deployment(req, call)
            if d["status"] not in CODEDEPLOY_ACTIVE:
                raise ApiError("DeploymentAlreadyCompletedException",
                               f"The deployment {d['deploymentId']} has already completed.")
            d["status"] = "Stopped"
            previous = a.cd_info(d).get("previousRevision")
            if req.get("autoRollbackEnabled") and previous:
                key = f"{d['applicationName']}/{d['deploymentGroupName']}"
                rollback = a.cd_add(key, f"d-{uuid.uuid4().hex[:9].upper()}", "InProgress", previous,
                                    time.time(), "codeDeployRollback", None)
                rollback["rollbackInfo"] = {"rollbackTriggeringDeploymentId": d["deploymentId"]}
                d["rollbackInfo"] = {"rollbackDeploymentId": rollback["deploymentId"]}
            return {"status": "Pending", "statusMessage": f"Stopping deployment {d['deploymentId']}"}

    def create_deployment(self, req, call):
        key = f"{req.get('applicationName')}/{req.get('deploymentGroupName')}"
        with self.lock:
            a = self._in(call)
            if key not in a.cd_groups:
                raise ForwardToMoto()
            active = [d for d in a.cd_groups[key] if d["status"] in CODEDEPLOY_ACTIVE]
            if active:
                raise ApiError("DeploymentLimitExceededException",
                               f"The deployment group {key} has an active deployment: {active[0]['deploymentId']}")
            d = a.cd_add(key, f"d-{uuid.uuid4().hex[:9].upper()}", "InProgress", req.get("revision") or {},
                         time.time(), "user", req.get("description"))
            return {"deploymentId": d["deploymentId"]}

    # ---- CodePipeline executions and stage rollback

    def list_pipeline_executions(self, req, call):
        stage = ((req.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        with self.lock:
            executions = self._in(call).executions.get(req.get("pipelineName"))
            if executions is None:
                raise ForwardToMoto()
            found = [e for e in executions if stage is None or stage in (e.get("succeededInStages") or [])]
            limit = int(req.get("maxResults") or 100)
            return {"pipelineExecutionSummaries": [
                {k: v for k, v in e.items() if k != "succeededInStages"} for e in found[:limit]]}

    def rollback_tracked_stage(self, req, call):
        """RollbackStage with CodePipeline's rules for a pipeline with seeded executions: the
        stage must exist and not be running (UnableToRollbackStage; a rollback running
        there: Conflict); the target must have succeeded in the stage and not be a rollback."""
        pipeline, stage = req.get("pipelineName"), req.get("stageName")
        with self.lock:
            a = self._in(call)
            if pipeline not in a.executions:
                return self.rollback_stage(req, call)
            states = (a.state["pipelines"].get(pipeline) or {}).get("stageStates") or []
            state = next((s for s in states if s.get("stageName") == stage), None)
            if state is None:
                raise ApiError("StageNotFoundException", f"Stage {stage} was not found in pipeline {pipeline}")
            latest = state.get("latestExecution") or {}
            if latest.get("status") in ("InProgress", "Stopping"):
                if latest.get("type") == "ROLLBACK":
                    raise ApiError("ConflictException", f"Stage {stage} is already being rolled back")
                raise ApiError("UnableToRollbackStageException", f"Stage {stage} is currently running")
            target = next((e for e in a.executions[pipeline]
                           if e.get("pipelineExecutionId") == req.get("targetPipelineExecutionId")), None)
            if target is None:
                raise ApiError("PipelineExecutionNotFoundException",
                               f"Pipeline execution {req.get('targetPipelineExecutionId')} was not found")
            if target.get("executionType") == "ROLLBACK" or stage not in (target.get("succeededInStages") or []):
                raise ApiError("UnableToRollbackStageException",
                               f"Execution {target['pipelineExecutionId']} did not succeed in stage {stage} "
                               "or is a rollback")
            new_id = str(uuid.uuid4())
            a.executions[pipeline].insert(0, {
                "pipelineExecutionId": new_id, "status": "InProgress", "startTime": time.time(),
                "lastUpdateTime": time.time(), "executionType": "ROLLBACK",
                "rollbackMetadata": {"rollbackTargetPipelineExecutionId": target["pipelineExecutionId"]}})
            state["latestExecution"] = {"pipelineExecutionId": new_id, "status": "InProgress", "type": "ROLLBACK"}
            return {"pipelineExecutionId": new_id}

    # ---- CloudWatch alarm tags

    def list_tags_for_resource(self, req, call):
        arn = req.get("ResourceARN")
        with self.lock:
            tags = self._in(call).alarm_tags.get(arn)
        if tags is None:
            raise ApiError("ResourceNotFoundException", f"Alarm {arn} does not exist")
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _ecr_wildcard_exclusions():
    """ECR's tag-mutability exclusion filters are wildcards (`*` matches any run of
    characters, the whole tag must match); moto reads them as regular expressions (a
    prefix match, and `*-rc` is an error). The filters are translated for moto's check,
    and a tag that may not move is refused as ECR refuses it."""
    from moto.core.exceptions import ServiceException
    from moto.ecr.exceptions import ImageAlreadyExistsException
    from moto.ecr.models import ECRBackend
    original = ECRBackend._resolve_image_tag_mutability
    if getattr(original, "wildcards", False):
        return

    class ImageTagAlreadyExists(ServiceException):
        code = "ImageTagAlreadyExistsException"

    def resolve(self, repository, proposed_image_tag):
        saved = repository.image_tag_mutability_exclusion_filters
        repository.image_tag_mutability_exclusion_filters = [
            dict(f, filter="^" + ".*".join(re.escape(p) for p in str(f.get("filter", "")).split("*")) + "$")
            for f in saved or []]
        try:
            return original(self, repository, proposed_image_tag)
        except ImageAlreadyExistsException:
            raise ImageTagAlreadyExists(
                f"The image tag '{proposed_image_tag}' already exists in the '{repository.name}' repository "
                f"and cannot be overwritten because the tag is immutable.") from None
        finally:
            repository.image_tag_mutability_exclusion_filters = saved

    resolve.wildcards = True
    ECRBackend._resolve_image_tag_mutability = resolve


# ---------------------------------------------------------------- the app

class LocalAws(DeploymentHistories):
    """The WSGI app: control API, recording, faults, stubs, built-ins, moto."""

    def __init__(self, moto_app=None):
        if moto_app is None:
            from moto.server import DomainDispatcherApplication, create_backend_app
            moto_app = DomainDispatcherApplication(create_backend_app)
        _ecr_wildcard_exclusions()
        self.moto = moto_app
        self.sts = Sts()
        self.lock = threading.Lock()
        self.met = threading.Condition()
        self.seq = 0
        self._clear()
        self.builtins = {
            ("CodePipeline_20150709", "PutJobSuccessResult"): self.put_job_success_result,
            ("CodePipeline_20150709", "PutJobFailureResult"): self.put_job_failure_result,
            ("CodePipeline_20150709", "GetPipelineState"): self.get_pipeline_state,
            ("CodePipeline_20150709", "RollbackStage"): self.rollback_tracked_stage,
            ("CodePipeline_20150709", "ListPipelineExecutions"): self.list_pipeline_executions,
            ("CodePipeline_20150709", "DisableStageTransition"): self.disable_stage_transition,
            ("CodePipeline_20150709", "EnableStageTransition"): self.enable_stage_transition,
            ("CodeDeploy_20141006", "PutLifecycleEventHookExecutionStatus"): self.put_hook_status,
            ("CodeDeploy_20141006", "StopDeployment"): self.stop_tracked_deployment,
            ("CodeDeploy_20141006", "GetDeploymentGroup"): self.get_deployment_group,
            ("CodeDeploy_20141006", "GetDeployment"): self.get_deployment,
            ("CodeDeploy_20141006", "CreateDeployment"): self.create_deployment,
            ("AmazonEC2ContainerServiceV20141113", "ListServiceDeployments"): self.list_service_deployments,
            ("AmazonEC2ContainerServiceV20141113", "DescribeServiceDeployments"): self.describe_service_deployments,
            ("AmazonEC2ContainerServiceV20141113", "DescribeServiceRevisions"): self.describe_service_revisions,
            ("AmazonEC2ContainerServiceV20141113", "StopServiceDeployment"): self.stop_service_deployment,
            ("AmazonEC2ContainerServiceV20141113", "ContinueServiceDeployment"): self.continue_service_deployment,
            ("AmazonEC2ContainerServiceV20141113", "UpdateService"): self.update_service,
            ("GraniteServiceVersion20100801", "ListTagsForResource"): self.list_tags_for_resource,
            ("GraniteServiceVersion20100801", "DescribeAlarms"): self.describe_alarms,
            (ECR_API, "InitiateLayerUpload"): self.initiate_layer_upload,
            (ECR_API, "UploadLayerPart"): self.upload_layer_part,
            (ECR_API, "CompleteLayerUpload"): self.complete_layer_upload,
            (ECR_API, "BatchCheckLayerAvailability"): self.batch_check_layer_availability,
            (ECR_API, "GetDownloadUrlForLayer"): self.get_download_url_for_layer,
            (ECR_API, "ListImageReferrers"): self.list_image_referrers,
            ("signer", "GetRevocationStatus"): self.get_revocation_status,
        }
        # The gate's scripted timelines come first; what they do not script goes to the
        # deployment histories' built-in for the same operation, then to moto.
        for key, gate in self.gate_builtins().items():
            fallback = self.builtins.get(key)
            self.builtins[key] = gate if fallback is None else _chain(gate, fallback)
        # The rehearsal's deployments and their reads come first (rehearsal.py).
        rehearsal.install(self, sys.modules[__name__])

    def _clear(self):
        """Forget calls, faults, stubs, jobs, state, latency, ECR blobs, uploads and
        settings, and Signer revocations (lock held or not shared yet)."""
        self.calls, self.faults, self.stubs, self.jobs = [], [], [], {}
        # "<deploymentId>/<lifecycleEventHookExecutionId>" -> the hook's answer
        self.hooks = {}
        # account -> AccountState: pipeline states, alarms, the health gate's scripted
        # deployments, the deployment histories
        self.accounts = {}
        self.latency_ms = 0.0
        # Held calls: {"service", "operation", "count", "timeout_ms", "arrived", "missed"}
        self.rendezvous = []
        # (registry id, region, repository) -> {"repo": moto's Repository, "blobs": {digest: bytes}}
        self.blobs = {}
        # uploadId -> {"key", "repo", "data": bytearray, "parts": [part lengths]}
        self.uploads = {}
        # layer download URL signature -> (access key, account) of the call that got it
        self.blob_urls = {}
        self.ecr = {"partSize": ECR_PART_SIZE, "minPartSize": ECR_MIN_PART_SIZE}
        # account -> the Signer entities revoked there (profile version ARNs, job ARNs,
        # certificate hashes)
        self.revocations = {}
        self.sts.settings()

    # ---- WSGI entry point

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        blob = path.startswith(BLOB_PATH)
        if path.startswith("/_local/") and not blob:
            return self.control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto(environ, start_response)
        start = now_ms()
        if blob:
            call = blob_call(environ)
            signature = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Signature", [""])[0]
            with self.lock:  # the URL acts for the call that got it, else in its registry
                call.access_key, call.moto_account = self.blob_urls.get(
                    signature, ("", (call.request or {}).get("registryId")))
        else:
            call = self.identify(environ)
        call.account = _caller_account(call)
        # Credentials that have expired are refused before anything else happens.
        expired = self.sts.expired(call.access_key)
        with self.lock:
            self.seq += 1
            seq = self.seq
            fault = None if expired else self._take_fault(call)
            kind = fault["kind"] if fault else None
            stub = self._find_stub(call) if kind in (None, "delay") and not expired else None
            delay = self.latency_ms + (fault["delay_ms"] if kind == "delay" else 0)
        if delay > 0:
            time.sleep(delay / 1000.0)
        self._meet(call)
        if kind == "reset":
            self._record(seq, call, start, 0, kind)
            reset_connection(environ)
            raise ConnectionResetError("connection reset on purpose")  # werkzeug stays quiet
        try:
            if expired:
                status, headers, body = error_response(call, *EXPIRED.get(call.protocol, EXPIRED["json"]))
            elif kind in ("throttle", "error", "deny"):
                status, headers, body = error_response(call, *self._fault_error(call, kind))
            elif stub is not None:
                status, headers, body = self._stub_response(call, stub)
            else:
                status, headers, body = self._serve(environ, call)
        except Exception as exc:  # a bug here: answer like AWS would, say why on stderr
            traceback.print_exc(file=sys.stderr)
            status, headers, body = error_response(call, "InternalFailure", repr(exc), 500)
        self._record(seq, call, start, status, kind)
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        if kind == "cut":
            return cut_body(environ, body)
        return [body]

    def identify(self, environ):
        """Service, operation and protocol of a request; reads the body unless S3."""
        call = Call()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        call.content_type = environ.get("CONTENT_TYPE", "")
        cbor_path = CBOR_PATH.match(path) if method == "POST" else None
        is_cbor = bool(cbor_path) or environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"
        if target:
            call.api, _, call.operation = target.rpartition(".")
        elif cbor_path:
            call.api, call.operation = cbor_path.group(1).split(".")[-1], cbor_path.group(2)
        credential = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        scope = (credential.group(1) if credential else query.get("X-Amz-Credential", [""])[0]).split("/")
        call.moto_account = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        call.base_url = _base_url(environ)
        body = None
        if len(scope) == 5:  # AKID/DATE/REGION/SERVICE/aws4_request
            call.service = scope[3].lower()
            call.access_key, call.region = scope[0], scope[2]
        else:  # unsigned or SigV4a: the API's name, else moto's guess
            body = read_body(environ)
            call.service = API_SERVICES.get(call.api) or self._moto_guess(environ)
        if call.service == "s3" and not (target or is_cbor):
            call.protocol = "s3"
            call.operation = s3_operation(method, path, query, environ)
            return call
        if body is None:
            body = read_body(environ)
        if is_cbor:
            call.protocol = "cbor"
            try:
                call.request = _jsonable(_decode(body, environ, cbor2.loads))
            except Exception:  # not ours to reject: log it as null
                call.request = None
        elif target:
            try:
                call.request = _decode(body, environ, json.loads)
            except (ValueError, OSError):
                call.request = None
        else:
            form = call.content_type.startswith("application/x-www-form-urlencoded")
            params = parse_qs(body.decode("utf-8", "replace")) if form else query
            call.params = {k: v[0] for k, v in params.items()}
            if "Action" in call.params:
                call.operation = call.params["Action"]
                call.protocol = "ec2" if call.service == "ec2" else "query"
            else:
                call.protocol, call.operation = "rest", f"{method} {path}"
                served = REST_OPERATIONS.get((call.service, method, path.rstrip("/")))
                if served:  # the query is its request, for the log and stubs
                    call.protocol, call.operation = "rest-json", served[0]
                    call.request = {k: v if k in served[1] else v[0] for k, v in query.items()}
        return call

    def warm_up(self, region):
        """Load moto's backends for the project's services (not recorded)."""
        for service, target, body in WARM_UP:
            headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential=LOCAL/20000101/{region}/{service}"
                                        "/aws4_request, SignedHeaders=host, Signature=0"}
            if target:
                headers["X-Amz-Target"] = target
            kind = "application/x-amz-json-1.1" if target else "application/x-www-form-urlencoded"
            run_wsgi(self.moto, create_environ("/", method="POST" if body else "GET", headers=headers,
                                               data=body, content_type=kind if body else None))

    def _moto_guess(self, environ):
        try:
            return str(self.moto.get_application(environ).service)
        except Exception:
            return "unknown"

    def _record(self, seq, call, start, status, fault):
        entry = {"seq": seq, "service": call.service, "operation": call.operation,
                 "start_ms": start, "end_ms": now_ms(), "status": status, "fault": fault,
                 "request": call.request, "account": call.account,
                 "region": call.region}
        with self.lock:
            self.calls.append(entry)

    # ---- faults and stubs (lock held)

    def _take_fault(self, call):
        for fault in self.faults:
            if self._targets(fault, call):
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                return dict(fault)
        return None

    def _meet(self, call):
        """Holds a call that a rendezvous names until `count` such calls have arrived, so
        that concurrent callers read the same state whatever the machine's load (the
        timeout only keeps a test that is wrong from hanging; a miss is recorded)."""
        with self.met:
            meeting = next((r for r in self.rendezvous
                            if self._targets(r, call) and r["arrived"] < r["count"]), None)
            if meeting is None:
                return
            meeting["arrived"] += 1
            self.met.notify_all()
            deadline = time.monotonic() + meeting["timeout_ms"] / 1000.0
            while meeting["arrived"] < meeting["count"]:
                left = deadline - time.monotonic()
                if left <= 0:
                    meeting["missed"] = True
                    return
                self.met.wait(left)

    def _find_stub(self, call):
        data = call.request if call.request is not None else call.params
        for stub in reversed(self.stubs):
            if self._targets(stub, call) and _matches(stub["match"], data or {}):
                return stub
        return None

    @staticmethod
    def _targets(rule, call):
        return rule["service"] in ("*", call.service) and rule["operation"] in ("*", call.operation)

    @staticmethod
    def _fault_error(call, kind):
        status, code, message = FAULTS[kind].get(call.protocol, FAULTS[kind]["json"])
        return code, message, status

    def _stub_response(self, call, stub):
        error = stub.get("error")
        if error:
            return error_response(call, error["type"], error.get("message", error["type"]),
                                  int(error.get("status", 400)))
        return ok_response(call, stub.get("response", {}))

    # ---- built-ins and moto

    def _serve(self, environ, call):
        if call.service == "ecr-blob":
            return self.download_blob(environ, call)
        if (call.service, call.operation) == ("sts", "AssumeRole"):
            why = self.sts.refusal(call.params or {}, call)
            if why:
                return error_response(call, "AccessDenied", why, 403)
            status, headers, body = self._forward(environ, call)
            if status == 200:
                self.sts.remember(body, call.params or {})
            return status, headers, body
        if (call.api, call.operation) == (ECR_API, "PutImage"):
            _with_image_digest(environ, call)
        if (call.api, call.operation) == ("TrentService", "GetPublicKey"):
            status, headers, body = self._forward(environ, call)
            return (status, *_with_key_spec(headers, body)) if status == 200 else (status, headers, body)
        handler = self.builtins.get((call.api, call.operation)) or self.builtins.get((call.service, call.operation))
        if handler is None and call.protocol == "cbor":
            return error_response(call, "UnknownOperationException",
                                  f"{call.operation} is not served here; add a stub", 400)
        if handler is None:
            return self._forward(environ, call)
        try:
            return ok_response(call, handler(call.request if isinstance(call.request, dict) else {}, call))
        except ApiError as err:
            return error_response(call, err.code, err.message, err.status, err.fields)
        except (ForwardToMoto, Forward):
            return self._forward(environ, call)

    def _forward(self, environ, call):
        try:
            return run_wsgi(self.moto, environ)
        except Exception as exc:  # moto's "not implemented" and its bugs: a 500 HTML page
            print(f"local-aws: moto failed on {call.service}.{call.operation}: {exc!r}", file=sys.stderr)
            return run_wsgi(InternalServerError(), environ)

    # ---- CodePipeline

    def put_job_success_result(self, req, _call=None):
        job_id = _job_id(req)
        token = req.get("continuationToken")
        details = req.get("executionDetails") or {}
        _check_length(details.get("summary"), "executionDetails.summary", 2048)
        _check_length(details.get("externalExecutionId"), "executionDetails.externalExecutionId", 1500)
        percent = details.get("percentComplete")
        if percent is not None and (not isinstance(percent, int) or not 0 <= percent <= 100):
            raise _validation(percent, "executionDetails.percentComplete",
                              "Member must have value between 0 and 100")
        _check_length(token, "continuationToken", 2048)
        variables = req.get("outputVariables")
        if variables is not None:
            if token is not None:
                raise ApiError("ValidationException",
                               "outputVariables can only be specified when there is no continuation token")
            for key in variables:
                if not OUTPUT_VARIABLE_KEY.match(key):
                    raise _validation(key, "outputVariables", "Map keys must satisfy constraint: "
                                      "[Member must satisfy regular expression pattern: [A-Za-z0-9@\\-_]+]")
            size = sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items())
            if size > 122880:
                raise ApiError("OutputVariablesSizeExceededException",
                               f"The output variables of the action exceed the 122880 byte limit ({size} bytes)")
        return self._end_job(job_id, "Continued" if token is not None else "Succeeded", req)

    def put_job_failure_result(self, req, _call=None):
        job_id = _job_id(req)
        details = req.get("failureDetails")
        if not isinstance(details, dict):
            raise _validation(None, "failureDetails", "Member must not be null")
        if details.get("type") not in FAILURE_TYPES:
            raise _validation(details.get("type"), "failureDetails.type",
                              f"Member must satisfy enum value set: [{', '.join(sorted(FAILURE_TYPES))}]")
        if details.get("message") is None:
            raise _validation(None, "failureDetails.message", "Member must not be null")
        _check_length(details["message"], "failureDetails.message", 5000)
        _check_length(details.get("externalExecutionId"), "failureDetails.externalExecutionId", 1500)
        return self._end_job(job_id, "Failed", req)

    def _end_job(self, job_id, status, req):
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job["rejected"] += 1
                raise ApiError("InvalidJobStateException",
                               f"Job {job_id} is not in a state that accepts a result: "
                               f"it already ended ({job['status']})")
            self.jobs[job_id] = {"status": status, "request": req, "reports": 1, "rejected": 0}
        return {}

    def get_pipeline_state(self, req, call):
        name = req.get("name")
        with self.lock:
            pipeline = self._in(call).state["pipelines"].get(name)
            if pipeline is None:
                raise ApiError("PipelineNotFoundException",
                               f"Account '{call.account}' does not have a pipeline with name '{name}'")
            return copy.deepcopy(pipeline)

    def rollback_stage(self, req, _call=None):
        for field in ("pipelineName", "stageName", "targetPipelineExecutionId"):
            if not req.get(field):
                raise _validation(None, field, "Member must not be null")
        return {"pipelineExecutionId": str(uuid.uuid4())}

    def disable_stage_transition(self, req, call):
        reason = req.get("reason")
        if reason is None:
            raise _validation(None, "reason", "Member must not be null")
        _check_length(reason, "reason", 300)
        return self._set_transition(req, call, False, reason)

    def enable_stage_transition(self, req, call):
        return self._set_transition(req, call, True, None)

    def _set_transition(self, req, call, enabled, reason):
        kind = req.get("transitionType")
        if kind not in ("Inbound", "Outbound"):
            raise _validation(kind, "transitionType", "Member must satisfy enum value set: [Inbound, Outbound]")
        transition = {"enabled": enabled, "lastChangedBy": f"arn:aws:iam::{call.account}:user/local",
                      "lastChangedAt": time.time()}
        if reason is not None:
            transition["disabledReason"] = reason
        with self.lock:
            pipelines = self._in(call).state["pipelines"]
            stages = (pipelines.get(req.get("pipelineName")) or {}).get("stageStates") or []
            names = [s.get("stageName") for s in stages]
            if req.get("stageName") in names:
                # An Outbound transition of a stage is the Inbound one of the next stage.
                index = names.index(req["stageName"]) + (kind == "Outbound")
                if index < len(stages):
                    stages[index]["inboundTransitionState"] = transition
        return {}

    # ---- CodeDeploy

    def put_hook_status(self, req, _call=None):
        """Records a CodeDeploy hook's answer. As in CodeDeploy, a hook is answered once:
        a second answer gets LifecycleEventAlreadyCompletedException."""
        deployment, execution = req.get("deploymentId"), req.get("lifecycleEventHookExecutionId")
        status = req.get("status")
        if not deployment:
            raise ApiError("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        if not execution:
            raise ApiError("InvalidLifecycleEventHookExecutionIdException",
                           "The lifecycle event hook execution ID is not valid.")
        if status not in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown"):
            raise ApiError("InvalidLifecycleEventHookExecutionStatusException",
                           f"The status {status} is not valid.")
        key = f"{deployment}/{execution}"
        with self.lock:
            hook = self.hooks.get(key)
            if hook is not None:
                hook["rejected"] += 1
                raise ApiError("LifecycleEventAlreadyCompletedException",
                               f"The lifecycle event {execution} has already completed ({hook['status']})")
            self.hooks[key] = {"deploymentId": deployment, "lifecycleEventHookExecutionId": execution,
                               "status": status, "reports": 1, "rejected": 0}
        return {"lifecycleEventHookExecutionId": execution}

    def stop_deployment(self, req, _call=None):
        return {"status": "Pending", "statusMessage": f"Stopping deployment {req.get('deploymentId')}"}

    # ---- CloudWatch

    def describe_alarms(self, req, call):
        names, prefix, state = req.get("AlarmNames"), req.get("AlarmNamePrefix"), req.get("StateValue")
        types = req.get("AlarmTypes")
        with self.lock:
            alarms = copy.deepcopy(self._in(call).state["alarms"])
        if types is not None and "MetricAlarm" not in types:
            alarms = []
        alarms = [a for a in alarms
                  if (not names or a.get("AlarmName") in names)
                  and (prefix is None or str(a.get("AlarmName", "")).startswith(prefix))
                  and (state is None or a.get("StateValue") == state)]
        return {"MetricAlarms": alarms, "CompositeAlarms": []}

    # ---- ECR layer API (moto has none of it)

    def _ecr_repository(self, req, call):
        """The moto repository a layer call names: (blob store key, Repository).

        Like moto, the caller's account picks the backend and registryId must match
        the repository's registry; a registryId of another account that has no such
        repository in the caller's backend is looked up in that account's backend
        (cross-account access, as a repository policy would allow)."""
        name = req.get("repositoryName")
        if not isinstance(name, str) or not name:
            raise _validation(None, "repositoryName", "Member must not be null")
        registry = req.get("registryId")
        if registry is not None and not (isinstance(registry, str) and REGISTRY_ID.match(registry)):
            raise _validation(registry, "registryId", "Member must satisfy regular expression pattern: [0-9]{12}")
        region = call.region or _default_region()
        caller = _caller_account(call)
        repo = _moto_repository(caller, region, name, registry or caller)
        if repo is None and registry and registry != caller:
            repo = _moto_repository(registry, region, name, registry)
        if repo is None:
            raise ApiError("RepositoryNotFoundException", f"The repository with name '{name}' does not exist "
                                                          f"in the registry with id '{registry or caller}'")
        return (repo.registry_id, region, name), repo

    def _blobs_of(self, key, repo):
        """One repository's blobs (lock held). A repository deleted and created again
        starts empty, as in ECR."""
        entry = self.blobs.get(key)
        if entry is None or entry["repo"] is not repo:
            entry = self.blobs[key] = {"repo": repo, "blobs": {}}
        return entry["blobs"]

    def _upload(self, req, key, repo):
        """The upload a part or completion is for (lock held)."""
        upload_id = req.get("uploadId")
        upload = self.uploads.get(upload_id) if isinstance(upload_id, str) else None
        if upload is None or upload["key"] != key or upload["repo"] is not repo:
            raise ApiError("UploadNotFoundException", f"Upload with id '{upload_id}' was not found for the "
                                                      f"repository with name '{key[2]}' in the registry with "
                                                      f"id '{key[0]}'")
        return upload

    def initiate_layer_upload(self, req, call):
        key, repo = self._ecr_repository(req, call)
        upload_id = str(uuid.uuid4())
        with self.lock:
            self.uploads[upload_id] = {"key": key, "repo": repo, "data": bytearray(), "parts": []}
            part_size = self.ecr["partSize"]
        return {"uploadId": upload_id, "partSize": part_size}

    def upload_layer_part(self, req, call):
        key, repo = self._ecr_repository(req, call)
        first, last = _long(req, "partFirstByte"), _long(req, "partLastByte")
        blob = _blob(req, "layerPartBlob")
        with self.lock:
            upload = self._upload(req, key, repo)
            received = len(upload["data"])
            fields = {"registryId": key[0], "repositoryName": key[2], "uploadId": req["uploadId"],
                      "lastValidByteReceived": received - 1}
            if first != received:
                raise ApiError("InvalidLayerPartException",
                               f"The part's first byte ({first}) is not consecutive to the last byte received "
                               f"({received - 1})", fields=fields)
            if last - first + 1 != len(blob):
                raise ApiError("InvalidLayerPartException",
                               f"The part's byte range {first}-{last} does not match its size ({len(blob)} bytes)",
                               fields=fields)
            if len(blob) > ECR_MAX_PART_SIZE:
                raise ApiError("InvalidLayerPartException",
                               f"The part is {len(blob)} bytes, more than the {ECR_MAX_PART_SIZE} bytes a layer "
                               "part may be", fields=fields)
            upload["data"] += blob
            upload["parts"].append(len(blob))
        return {"registryId": key[0], "repositoryName": key[2], "uploadId": req["uploadId"],
                "lastByteReceived": last}

    def complete_layer_upload(self, req, call):
        key, repo = self._ecr_repository(req, call)
        digests = _digest_list(req)
        with self.lock:
            upload = self._upload(req, key, repo)
            if not upload["data"]:
                raise ApiError("EmptyUploadException", f"The upload with id '{req['uploadId']}' does not contain "
                                                       "any layer parts")
            data, parts, least = bytes(upload["data"]), list(upload["parts"]), self.ecr["minPartSize"]
            del self.uploads[req["uploadId"]]
        small = next((i for i, size in enumerate(parts[:-1]) if size < least), None)
        if small is not None:
            raise ApiError("LayerPartTooSmallException",
                           f"Layer parts must be at least {least} bytes in size (part {small + 1} of "
                           f"{len(parts)} is {parts[small]} bytes)")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        wrong = next((d for d in digests if d != digest), None)
        if wrong is not None:
            raise ApiError("InvalidLayerException",
                           f"The layer digest calculation performed by Amazon ECR upon receipt of the image layer "
                           f"({digest}) does not match the digest specified ({wrong})")
        with self.lock:
            blobs = self._blobs_of(key, repo)
            if digest in blobs:
                raise ApiError("LayerAlreadyExistsException",
                               f"Layer {digest} already exists in the repository with name '{key[2]}' in the "
                               f"registry with id '{key[0]}'")
            blobs[digest] = data
        return {"registryId": key[0], "repositoryName": key[2], "uploadId": req["uploadId"],
                "layerDigest": digest}

    def batch_check_layer_availability(self, req, call):
        key, repo = self._ecr_repository(req, call)
        digests = _digest_list(req)
        media_types = _manifest_blobs(repo)
        with self.lock:
            blobs = self._blobs_of(key, repo)
            sizes = {d: len(blobs[d]) for d in digests if isinstance(d, str) and d in blobs}
        layers, failures = [], []
        for digest in digests:
            if not isinstance(digest, str) or not DIGEST.match(digest):
                failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest",
                                 "failureReason": "Invalid layer digest"})
            elif digest in sizes:
                layer = {"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": sizes[digest]}
                if media_types.get(digest):
                    layer["mediaType"] = media_types[digest]
                layers.append(layer)
            else:
                failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                 "failureReason": "Could not find layer"})
        return {"layers": layers, "failures": failures}

    def get_download_url_for_layer(self, req, call):
        key, repo = self._ecr_repository(req, call)
        digest = req.get("layerDigest")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise ApiError("InvalidParameterException", f"Invalid parameter at 'layerDigest': '{digest}' is not "
                                                        "a valid digest")
        with self.lock:
            present = digest in self._blobs_of(key, repo)
        if not present:
            raise ApiError("LayersNotFoundException",
                           f"The layer with digest '{digest}' could not be found in the repository with name "
                           f"'{key[2]}' in the registry with id '{key[0]}'")
        if digest not in _manifest_blobs(repo):
            raise ApiError("LayerInaccessibleException",
                           f"The layer with digest '{digest}' is not available because it is not associated "
                           "with an image")
        signed_at = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        # Shaped like S3's presigned URLs, whose credential, token and signature must never
        # reach a log.
        day = signed_at[:8]
        signature = hashlib.sha256(f"{digest}{signed_at}{uuid.uuid4()}".encode()).hexdigest()
        with self.lock:  # a download acts for this call: its credentials, its account
            self.blob_urls[signature] = (call.access_key, call.account)
        url = (f"{call.base_url}{BLOB_PATH}{key[0]}/{key[1]}/{quote(key[2])}/{quote(digest, safe=':')}"
               f"?X-Amz-Algorithm=AWS4-HMAC-SHA256"
               f"&X-Amz-Credential=ASIALOCALBLOBACCESS%2F{day}%2F{key[1]}%2Fs3%2Faws4_request"
               f"&X-Amz-Date={signed_at}&X-Amz-Expires={BLOB_URL_SECONDS}"
               f"&X-Amz-Security-Token=IQoJb3JpZ2luX2VjLOCALBLOBSESSIONTOKEN"
               f"&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}")
        return {"downloadUrl": url, "layerDigest": digest}

    def download_blob(self, environ, call):
        """GET (or HEAD) of a GetDownloadUrlForLayer URL: the blob's bytes, as S3 would
        serve them (errors in S3's XML, a Range header honoured)."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return error_response(call, "MethodNotAllowed",
                                  "The specified method is not allowed against this resource.", 405)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        signed_at = query.get("X-Amz-Date", [""])[0]
        try:
            expires = float(query.get("X-Amz-Expires", [BLOB_URL_SECONDS])[0])
            signed = datetime.datetime.strptime(signed_at, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp() if signed_at else None
        except ValueError:
            return error_response(call, "AuthorizationQueryParametersError",
                                  "X-Amz-Date or X-Amz-Expires is not valid.", 400)
        if signed is not None and time.time() > signed + expires:
            return error_response(call, "AccessDenied", "Request has expired", 403)
        where = call.request or {}
        key = (where.get("registryId"), where.get("region"), where.get("repositoryName"))
        repo = _moto_repository(key[0], key[1], key[2], key[0]) if None not in key else None
        with self.lock:
            entry = self.blobs.get(key)
            data = entry["blobs"].get(where.get("layerDigest")) if entry and entry["repo"] is repo else None
        if data is None:
            return error_response(call, "NoSuchKey", "The specified key does not exist.", 404)
        headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes"),
                   ("ETag", f'"{where["layerDigest"].partition(":")[2][:32]}"'),
                   ("Last-Modified", http_date(0)), ("x-amz-request-id", str(uuid.uuid4()))]
        status, body = 200, data
        wanted = _byte_range(environ.get("HTTP_RANGE", ""), len(data))
        if wanted == "unsatisfiable":
            status, headers, body = error_response(call, "InvalidRange", "The requested range is not satisfiable",
                                                   416)
            return status, headers + [("Content-Range", f"bytes */{len(data)}")], body
        if wanted is not None:
            status, body = 206, data[wanted[0]:wanted[1] + 1]
            headers.append(("Content-Range", f"bytes {wanted[0]}-{wanted[1]}/{len(data)}"))
        headers.append(("Content-Length", str(len(body))))
        return status, headers, body

    def _put_blob(self, data):
        """Control API: stores a blob in a repository directly."""
        name = data["repositoryName"]
        account = data.get("registryId") or _home_account()
        region = data.get("region") or _default_region()
        content = base64.b64decode(data["content_b64"], validate=True)
        repo = _moto_repository(account, region, name, account)
        if repo is None:
            return 404, {"error": f"no repository {name} in registry {account} ({region}); create it first"}
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        with self.lock:
            self._blobs_of((account, region, name), repo)[digest] = content
        return 200, {"digest": digest, "size": len(content), "registryId": account, "region": region,
                     "repositoryName": name}

    def _list_blobs(self, query):
        """Control API: the stored blobs, optionally of one registry, region or repository."""
        wanted = {k: query[k][0] for k in ("registryId", "region", "repositoryName") if k in query}
        with self.lock:
            entries = [({"registryId": key[0], "region": key[1], "repositoryName": key[2]}, entry["blobs"])
                       for key, entry in sorted(self.blobs.items())]
        return [{**where, "digest": digest, "size": len(blob)}
                for where, blobs in entries if all(where[k] == v for k, v in wanted.items())
                for digest, blob in sorted(blobs.items())]

    def _set_ecr(self, data):
        """Control API: the part sizes InitiateLayerUpload suggests and CompleteLayerUpload requires."""
        settings = dict(self.ecr)
        for field in ("partSize", "minPartSize"):
            if field in data:
                value = int(data[field])
                if not 1 <= value <= ECR_MAX_PART_SIZE:
                    raise ValueError(f"{field} must be between 1 and {ECR_MAX_PART_SIZE}")
                settings[field] = value
        self.ecr = settings

    # ---- ECR ListImageReferrers (moto has none of it)

    def list_image_referrers(self, req, call):
        """The manifests of the repository whose `subject` is the given image, by digest."""
        _key, repo = self._ecr_repository(req, call)
        subject = req.get("subjectId")
        digest = subject.get("imageDigest") if isinstance(subject, dict) else None
        if digest is None:
            raise _validation(None, "subjectId.imageDigest", "Member must not be null")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise ApiError("InvalidParameterException", f"Invalid parameter at 'subjectId.imageDigest': "
                                                        f"'{digest}' is not a valid digest")
        wanted = req.get("filter") or {}
        types = wanted.get("artifactTypes") or []
        if not isinstance(types, list) or len(types) > 5:
            raise ApiError("InvalidParameterException", "Invalid parameter at 'filter.artifactTypes': at most 5 "
                                                        "artifact types may be given")
        status = wanted.get("artifactStatus", "ACTIVE")
        if status not in ARTIFACT_STATUSES:
            raise _validation(status, "filter.artifactStatus",
                              f"Member must satisfy enum value set: [{', '.join(ARTIFACT_STATUSES)}]")
        limit = req.get("maxResults", REFERRERS_PAGE)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ApiError("InvalidParameterException", f"Invalid parameter at 'maxResults': '{limit}' must be "
                                                        "between 1 and 50")
        # Every referrer stored is ACTIVE.
        referrers = [r for r in _image_referrers(repo, digest)
                     if status in ("ACTIVE", "ANY") and (not types or r.get("artifactType") in types)]
        start = 0
        if req.get("nextToken") is not None:
            after = _referrers_after(req["nextToken"], digest)
            start = sum(1 for r in referrers if r["digest"] <= after)
        page = referrers[start:start + limit]
        out = {"referrers": page}
        if start + limit < len(referrers):
            token = json.dumps({"subject": digest, "after": page[-1]["digest"]}).encode()
            out["nextToken"] = base64.urlsafe_b64encode(token).decode()
        return out

    # ---- Signer GetRevocationStatus (moto has none of it)

    def get_revocation_status(self, req, call):
        """The queried profile version, job and certificate hashes that are revoked in the
        caller's account (POST /_local/signer/revocations), as sent."""
        for field in REVOCATION_FIELDS:
            if req.get(field) in (None, "", []):
                raise _validation(None, field, "Member must not be null")
        if _epoch(req["signatureTimestamp"]) is None:
            raise _validation(req["signatureTimestamp"], "signatureTimestamp",
                              "Member must be a timestamp in ISO 8601 date-time format")
        for field in ("profileVersionArn", "jobArn"):
            _check_length(req[field], field, 2048, 20)
        with self.lock:
            revoked = set(self.revocations.get(call.account, ()))
        queried = [req["profileVersionArn"], req["jobArn"], *req["certificateHashes"]]
        return {"revokedEntities": [e for i, e in enumerate(queried) if e in revoked and e not in queried[:i]]}

    def _revocations_control(self, method, data, query):
        """Control API: POST adds revoked entities to an account's; GET lists them; DELETE
        clears one account's (?account=) or all."""
        account = _seed_account({"account": data.get("account") or query.get("account", [None])[0]})
        with self.lock:
            if method == "DELETE":
                if account:
                    self.revocations.pop(account, None)
                else:
                    self.revocations = {}
                return 200, {"ok": True}
            account = _owner(account)
            if method == "POST":
                revoked = data["revoked"]
                if not isinstance(revoked, list) or not all(isinstance(e, str) and e for e in revoked):
                    raise ValueError("revoked must be a list of profile version ARNs, job ARNs and "
                                     "certificate hashes")
                self.revocations.setdefault(account, set()).update(revoked)
            return 200, {"account": account, "revoked": sorted(self.revocations.get(account, ()))}

    # ---- deployment health: ECS service deployments, ELBv2 target health, CloudWatch
    # metric data, CodeDeploy deployments and targets. Each plays a timeline scripted
    # through POST /_local/state (README.md, "Deployment health"); what is not
    # scripted goes to moto.

    def gate_builtins(self):
        ecs = "AmazonEC2ContainerServiceV20141113"
        return {
            (ecs, "ListServiceDeployments"): self.gate_list_service_deployments,
            (ecs, "DescribeServiceDeployments"): self.gate_describe_service_deployments,
            (ecs, "DescribeServiceRevisions"): self.gate_describe_service_revisions,
            ("elasticloadbalancing", "DescribeTargetHealth"): self.gate_describe_target_health,
            ("GraniteServiceVersion20100801", "GetMetricData"): self.gate_get_metric_data,
            ("CodeDeploy_20141006", "GetDeployment"): self.gate_get_deployment,
            ("CodeDeploy_20141006", "ListDeployments"): self.gate_list_deployments,
            ("CodeDeploy_20141006", "ListDeploymentTargets"): self.gate_list_deployment_targets,
            ("CodeDeploy_20141006", "BatchGetDeploymentTargets"): self.gate_batch_get_deployment_targets,
            ("CodeDeploy_20141006", "GetDeploymentGroup"): self.gate_get_deployment_group,
            ("elasticloadbalancing", "DescribeTargetGroups"): self.gate_describe_target_groups,
        }

    def _gate_frame(self, a, key, frames, advance=True):
        """The frame of a timeline for this read (lock held). Each frame serves
        `calls` reads (default 1); the last one serves every read after. A read
        that does not advance sees the frame the last read saw. `a`: the account's state."""
        served = a.gate_calls.get(key, 0)
        if advance:
            a.gate_calls[key] = served + 1
        else:
            served = max(served - 1, 0)
        chosen = frames[-1]
        for frame in frames:
            n = int(frame.get("calls", 1))
            if served < n:
                chosen = frame
                break
            served -= n
        return {k: v for k, v in copy.deepcopy(chosen).items() if k != "calls"}

    def _gate_service_deployment(self, a, entry, advance=True):
        base = {k: v for k, v in entry.items() if k != "timeline"}
        frames = entry.get("timeline") or [{}]
        d = {**copy.deepcopy(base), **self._gate_frame(a, ("sd", base["serviceDeploymentArn"]), frames, advance)}
        # A pause hook answered with ContinueServiceDeployment stays answered, whatever
        # the timeline scripts next.
        answered = a.gate_continued.get(d["serviceDeploymentArn"])
        if answered:
            for hook in d.get("lifecycleHookDetails") or []:
                hook["status"] = answered["hooks"].get(hook.get("hookId"), hook.get("status"))
            if answered.get("status"):
                d["status"] = answered["status"]
        return d

    def gate_list_service_deployments(self, req, call):
        service, cluster = req.get("service"), req.get("cluster")
        if not service:
            raise _validation(None, "service", "Member must not be null")
        named = lambda arn, name: name is None or arn == name or str(arn).endswith("/" + name)
        with self.lock:
            a = self._in(call)
            found = [self._gate_service_deployment(a, e, advance=False) for e in a.gate_state["serviceDeployments"]
                     if named(e.get("serviceArn"), service) and named(e.get("clusterArn"), cluster)]
        if not found:
            raise Forward()
        found.sort(key=lambda d: _epoch(d.get("createdAt")) or 0, reverse=True)
        brief = ("serviceDeploymentArn", "serviceArn", "clusterArn", "createdAt", "startedAt", "finishedAt",
                 "status", "statusReason")
        return {"serviceDeployments": [{k: d[k] for k in brief if k in d} |
                                       {"targetServiceRevisionArn": (d.get("targetServiceRevision") or {}).get("arn")}
                                       for d in found]}

    def gate_describe_service_deployments(self, req, call):
        arns = req.get("serviceDeploymentArns") or []
        if not 1 <= len(arns) <= 20:
            raise _validation(arns, "serviceDeploymentArns", "Member must have length between 1 and 20")
        out, failures = [], []
        with self.lock:
            a = self._in(call)
            by_arn = {e["serviceDeploymentArn"]: e for e in a.gate_state["serviceDeployments"]}
            if not any(arn in by_arn for arn in arns):
                raise Forward()
            for arn in arns:
                if arn in by_arn:
                    out.append(self._gate_service_deployment(a, by_arn[arn]))
                else:
                    failures.append({"arn": arn, "reason": "MISSING", "detail": "ServiceDeploymentNotFound"})
        return {"serviceDeployments": out, "failures": failures}

    def gate_describe_service_revisions(self, req, call):
        arns = req.get("serviceRevisionArns") or []
        if not 1 <= len(arns) <= 20:
            raise _validation(arns, "serviceRevisionArns", "Member must have length between 1 and 20")
        with self.lock:
            known = copy.deepcopy(self._in(call).gate_state["serviceRevisions"])
        found = [dict(known[a], serviceRevisionArn=a) for a in arns if a in known]
        if not found:
            raise Forward()
        failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]
        return {"serviceRevisions": found, "failures": failures}

    def gate_describe_target_health(self, _req, call):
        arn = (call.params or {}).get("TargetGroupArn")
        with self.lock:
            a = self._in(call)
            frames = a.gate_state["targetHealth"].get(arn)
            if not frames:
                raise Forward()
            frame = self._gate_frame(a, ("tg", arn), frames)
        descriptions = []
        for t in frame.get("targets", []):
            health = {"State": t.get("state", "healthy"), "Reason": t.get("reason"),
                      "Description": t.get("description")}
            descriptions.append({"Target": {"Id": t["id"], "Port": t.get("port", 80)},
                                 "HealthCheckPort": str(t.get("port", 80)), "TargetHealth": health})
        return {"TargetHealthDescriptions": descriptions}

    def gate_get_metric_data(self, req, call):
        queries = req.get("MetricDataQueries") or []
        if not queries:
            raise _validation(None, "MetricDataQueries", "Member must not be null")
        start, end = _epoch(req.get("StartTime")) or 0, _epoch(req.get("EndTime")) or time.time()
        now = time.time()
        with self.lock:
            scripted = copy.deepcopy(self._in(call).gate_state["metricData"])
        results = []
        for q in queries:
            data = scripted.get(q.get("Id"))
            result = {"Id": q.get("Id"), "Label": q.get("Label") or q.get("Id"), "Timestamps": [], "Values": [],
                      "StatusCode": "Complete"}
            if isinstance(data, dict) and "error" in data:
                result |= {"StatusCode": "InternalError",
                           "Messages": [{"Code": "InternalError", "Value": data["error"]}]}
            elif data:
                points = sorted(((now - ago, v) for ago, v in data), reverse=True)
                points = [(t, v) for t, v in points if start <= t <= end]
                result |= {"Timestamps": [t for t, _ in points], "Values": [float(v) for _, v in points]}
            results.append(result)
        return {"MetricDataResults": results, "Messages": []}

    def _gate_codedeploy(self, a, deployment_id, advance):
        entry = a.gate_state["codedeployDeployments"].get(deployment_id)
        if entry is None:
            return None
        base = {k: v for k, v in entry.items() if k not in ("timeline", "targets")}
        frame = self._gate_frame(a, ("cd", deployment_id), entry.get("timeline") or [{}], advance)
        targets = copy.deepcopy(frame.pop("targets", None) or entry.get("targets") or {})
        return {**copy.deepcopy(base), "deploymentId": deployment_id, **frame}, targets

    def gate_get_deployment(self, req, call):
        with self.lock:
            found = self._gate_codedeploy(self._in(call), req.get("deploymentId"), advance=True)
        if found is None:
            raise Forward()
        return {"deploymentInfo": found[0]}

    def gate_list_deployments(self, req, call):
        app, group = req.get("applicationName"), req.get("deploymentGroupName")
        with self.lock:
            found = [(e.get("createTime", 0), d) for d, e in self._in(call).gate_state["codedeployDeployments"].items()
                     if e.get("applicationName") == app and e.get("deploymentGroupName") == group]
        if not found:
            raise Forward()
        return {"deployments": [d for _, d in sorted(found, key=lambda x: _epoch(x[0]) or 0, reverse=True)]}

    def gate_list_deployment_targets(self, req, call):
        with self.lock:
            found = self._gate_codedeploy(self._in(call), req.get("deploymentId"), advance=False)
        if found is None:
            raise ApiError("DeploymentDoesNotExistException",
                           f"The deployment {req.get('deploymentId')} could not be found")
        wanted = ((req.get("targetFilters") or {}).get("TargetStatus")) or None
        ids = [t for t, target in found[1].items() if wanted is None or target.get("status") in wanted]
        return {"targetIds": ids}

    def gate_batch_get_deployment_targets(self, req, call):
        deployment_id = req.get("deploymentId")
        with self.lock:
            found = self._gate_codedeploy(self._in(call), deployment_id, advance=False)
        if found is None:
            raise ApiError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found")
        targets = []
        for target_id in req.get("targetIds") or []:
            if target_id not in found[1]:
                raise ApiError("DeploymentTargetDoesNotExistException", f"The target {target_id} could not be found")
            target = {"targetId": target_id, "deploymentId": deployment_id, **found[1][target_id]}
            if "taskSetsInfo" in target:  # an ECS blue/green deployment's service
                targets.append({"deploymentTargetType": "ECSTarget", "ecsTarget": target})
            else:
                targets.append({"deploymentTargetType": "InstanceTarget", "instanceTarget": target})
        return {"deploymentTargets": targets}

    # The green target group of a CodeDeploy deployment: its ECS target's task sets
    # (above), the deployment group's target groups, and their ARNs by name.

    def gate_get_deployment_group(self, req, call):
        key = f"{req.get('applicationName')}/{req.get('deploymentGroupName')}"
        with self.lock:
            group = copy.deepcopy(self._in(call).gate_state["deploymentGroups"].get(key))
        if group is None:
            raise Forward()
        return {"deploymentGroupInfo": {"applicationName": req.get("applicationName"),
                                        "deploymentGroupName": req.get("deploymentGroupName"), **group}}

    def gate_describe_target_groups(self, _req, call):
        """By `Names`, the target groups whose ARNs `targetHealth` scripts
        (`.../targetgroup/<name>/<id>`); anything else goes to moto."""
        params = call.params or {}
        names = [v for k, v in sorted((k, v) for k, v in params.items() if k.startswith("Names.member."))
                 if k.rsplit(".", 1)[-1].isdigit()]
        names = [params[f"Names.member.{i}"] for i in range(1, len(names) + 1) if f"Names.member.{i}" in params]
        with self.lock:
            by_name = {arn.split(":targetgroup/", 1)[-1].split("/", 1)[0]: arn
                       for arn in self._in(call).gate_state["targetHealth"]}
        if not names or not all(n in by_name for n in names):
            raise Forward()
        return {"TargetGroups": [{"TargetGroupArn": by_name[n], "TargetGroupName": n, "TargetType": "ip"}
                                 for n in names]}

    def _set_gate_state(self, data, named):
        """Control API: the scripted deployment health; replacing a part restarts its
        timelines. A part replaces that part of the body's account (`named`, else the home
        account) and of each account its items belong to (by their ARNs)."""
        kinds = {"serviceDeployments": list, "serviceRevisions": dict, "targetHealth": dict, "metricData": dict,
                 "codedeployDeployments": dict, "deploymentGroups": dict}
        for key, kind in kinds.items():
            if key not in data:
                continue
            if not isinstance(data[key], kind):
                raise ValueError(f"{key} must be a{'n object' if kind is dict else ' list'}")
            if key == "serviceDeployments" and not all("serviceDeploymentArn" in e for e in data[key]):
                raise ValueError("every service deployment needs serviceDeploymentArn")
            parts = {_owner(named): kind()}
            if kind is list:
                for e in data[key]:
                    parts.setdefault(_owner(named, e["serviceDeploymentArn"]), []).append(e)
            else:
                by_arn = key in ("serviceRevisions", "targetHealth")
                for k, v in data[key].items():
                    parts.setdefault(_owner(named, k if by_arn else None), {})[k] = v
            prefix = {"serviceDeployments": "sd", "targetHealth": "tg", "codedeployDeployments": "cd"}.get(key)
            for account, part in parts.items():
                a = self._in(account)
                a.gate_state[key] = part
                a.gate_calls = {k: v for k, v in a.gate_calls.items() if k[0] != prefix}
                if key == "serviceDeployments":
                    a.gate_continued = {}

    # ---- control API

    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")[len("/_local"):].rstrip("/")
        try:
            raw = read_body(environ)
            data = json.loads(raw) if raw.strip() else {}
            status, result = self._control(method, path, data, environ)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            status, result = 400, {"error": f"bad request: {exc}"}
        body = json.dumps(result).encode()
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, method, path, data, environ):
        ok = (200, {"ok": True})
        if (method, path) == ("GET", "/health"):
            return ok
        if (method, path) == ("GET", "/calls"):
            query = parse_qs(environ.get("QUERY_STRING", ""))
            service, operation = query.get("service", [None])[0], query.get("operation", [None])[0]
            account = query.get("account", [None])[0]
            with self.lock:
                calls = sorted(self.calls, key=lambda c: c["seq"])
            return 200, [c for c in calls if service in (None, c["service"])
                         and operation in (None, c["operation"]) and account in (None, c["account"])]
        if path.startswith("/sts"):
            answer = self.sts.control(method, path, data)
            if answer is not None:
                return answer
        if (method, path) == ("POST", "/calls/reset"):
            with self.lock:
                self.calls = []
            return ok
        if path == "/faults" and method in ("GET", "POST", "DELETE"):
            with self.lock:
                if method == "POST":
                    self.faults.append(_fault(data))
                elif method == "DELETE":
                    self.faults = []
                return (200, copy.deepcopy(self.faults)) if method == "GET" else ok
        if path == "/rendezvous" and method in ("GET", "POST"):
            with self.met:
                if method == "POST":
                    self.rendezvous.append(_rendezvous(data))
                return 200, copy.deepcopy(self.rendezvous)
        if (method, path) == ("POST", "/latency"):
            ms = float(data.get("ms", 0))
            if ms < 0:
                raise ValueError("ms must be >= 0")
            with self.lock:
                self.latency_ms = ms
            return ok
        if path == "/stubs" and method in ("GET", "POST", "DELETE"):
            with self.lock:
                if method == "POST":
                    self.stubs.append(_stub(data))
                elif method == "DELETE":
                    self.stubs = []
                return (200, copy.deepcopy(self.stubs)) if method == "GET" else ok
        if method == "GET" and (path == "/jobs" or path.startswith("/jobs/")):
            with self.lock:
                if path == "/jobs":
                    return 200, copy.deepcopy(self.jobs)
                job = self.jobs.get(path[len("/jobs/"):])
                return (200, copy.deepcopy(job)) if job else (404, {"error": "no such job"})
        if method == "GET" and path == "/hooks":
            with self.lock:
                return 200, copy.deepcopy(self.hooks)
        if path == "/state" and method in ("GET", "POST"):
            with self.lock:
                if method == "POST":
                    return 200, copy.deepcopy(self._set_state(data).state)
                account = parse_qs(environ.get("QUERY_STRING", "")).get("account", [None])[0]
                return 200, copy.deepcopy(self._in(_owner(_seed_account({"account": account}))).state)
        if path == "/ecr/blobs" and method in ("GET", "POST"):
            if method == "POST":
                return self._put_blob(data)
            return 200, self._list_blobs(parse_qs(environ.get("QUERY_STRING", "")))
        if path == "/ecr/settings" and method in ("GET", "POST"):
            with self.lock:
                if method == "POST":
                    self._set_ecr(data)
                return 200, dict(self.ecr)
        if path == "/signer/revocations" and method in ("GET", "POST", "DELETE"):
            return self._revocations_control(method, data, parse_qs(environ.get("QUERY_STRING", "")))
        if path.startswith("/rehearsal"):
            return self.rehearsal.control(method, path, data)
        if path == "/deployments" and method in ("GET", "POST"):
            return self._histories_control(method, data, parse_qs(environ.get("QUERY_STRING", "")))
        if (method, path) == ("POST", "/reset"):
            with self.lock:
                self._clear()
            if data.get("moto"):
                run_wsgi(self.moto, create_environ("/moto-api/reset", method="POST"))
                self.sts.forget()  # moto forgot the keys it issued
            return ok
        return 404, {"error": f"no control endpoint {method} /_local{path}"}

    def _set_state(self, data):
        """Control API: replaces the given parts of the state of the body's account (its
        `account`, else the home account) and of the accounts its items' ARNs name; answers
        the body's account's state."""
        named = _seed_account(data)
        home = self._in(_owner(named))
        if "pipelines" in data:
            if not isinstance(data["pipelines"], dict):
                raise ValueError("pipelines must be an object of name -> GetPipelineState response")
            home.state["pipelines"] = data["pipelines"]
        if "alarms" in data:
            if not isinstance(data["alarms"], list):
                raise ValueError("alarms must be a list of MetricAlarm objects")
            parts = {home.account: []}
            for alarm in data["alarms"]:
                parts.setdefault(_owner(named, alarm.get("AlarmArn")), []).append(alarm)
            for account, alarms in parts.items():
                self._in(account).state["alarms"] = alarms
        self._set_gate_state(data, named)
        return home


# ---------------------------------------------------------------- helpers

def _chain(first, then):
    """A built-in that asks `first`, and `then` when `first` forwards the call."""
    def handler(req, call=None):
        try:
            return first(req, call)
        except Forward:
            return then(req, call)
    return handler


def _service_name(name):
    name = str(name or "*").lower()
    return SERVICE_ALIASES.get(name, name)


def _fault(data):
    kind = data["kind"]
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
    count = int(data.get("count", 1))
    if count == 0 or count < -1:
        raise ValueError("count must be positive, or -1 for every matching call")
    return {"service": _service_name(data.get("service")), "operation": data.get("operation") or "*",
            "kind": kind, "count": count, "delay_ms": float(data.get("delay_ms", 0))}


def _rendezvous(data):
    count = int(data.get("count", 2))
    if count < 2:
        raise ValueError("count must be at least 2")
    return {"service": _service_name(data.get("service")), "operation": data.get("operation") or "*",
            "count": count, "timeout_ms": float(data.get("timeout_ms", 10_000)),
            "arrived": 0, "missed": False}


def _stub(data):
    if ("response" in data) == ("error" in data):
        raise ValueError("a stub needs exactly one of response and error")
    if "error" in data and "type" not in data["error"]:
        raise ValueError("error needs a type")
    if not isinstance(data.get("match", {}), dict):
        raise ValueError("match must be an object")
    return {"service": _service_name(data.get("service")), "operation": data.get("operation") or "*",
            "match": data.get("match") or {}, "response": data.get("response"), "error": data.get("error")}


def _validation(value, field, constraint):
    shown = "" if value is None else f" '{value}'"
    return ApiError("ValidationException",
                    f"1 validation error detected: Value{shown} at '{field}' failed to satisfy "
                    f"constraint: {constraint}")


def _check_length(value, field, maximum, minimum=1):
    if value is None:
        return
    if not isinstance(value, str) or not minimum <= len(value) <= maximum:
        raise _validation(None, field, f"Member must have length between {minimum} and {maximum}")


def _job_id(req):
    job_id = req.get("jobId")
    if not isinstance(job_id, str) or not UUID.match(job_id):
        raise _validation(job_id, "jobId", "Member must satisfy regular expression pattern: "
                          "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    return job_id


def _default_region():
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _base_url(environ):
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _caller_account(call):
    """The account moto serves a call from, worked out as moto does: MOTO_ACCOUNT_ID,
    else the x-moto-account-id header, else the account owning the access key (keys
    from AssumeRole belong to the role's account), else moto's default."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if call.moto_account:
        return call.moto_account
    from moto.iam.models import get_account_id_from
    return get_account_id_from(call.access_key)


def _moto_repository(account, region, name, registry):
    """moto's ECR repository `name` in `account`'s backend for `region`, if it is in
    `registry`."""
    from moto.ecr.models import ecr_backends
    try:
        repo = ecr_backends[account][region].repositories.get(name)
    except KeyError:  # a region moto does not know
        return None
    return repo if repo is not None and repo.registry_id == registry else None


def _manifest_blobs(repo):
    """digest -> media type (or None) of every blob the repository's image manifests
    reference (configs and layers)."""
    found = {}
    for image in list(repo.images):
        try:
            manifest = json.loads(image.image_manifest)
        except (TypeError, ValueError):
            continue
        if not isinstance(manifest, dict):
            continue
        layers = manifest.get("layers") if isinstance(manifest.get("layers"), list) else []
        for descriptor in [manifest.get("config")] + layers:
            if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
                found[descriptor["digest"]] = found.get(descriptor["digest"]) or descriptor.get("mediaType")
    return found


def _image_referrers(repo, subject):
    """The repository's image manifests whose `subject` is `subject`, as ListImageReferrers
    answers them, by digest."""
    found = {}
    for image in list(repo.images):
        try:
            manifest = json.loads(image.image_manifest)
        except (TypeError, ValueError):
            continue
        if not isinstance(manifest, dict) or not isinstance(manifest.get("subject"), dict) \
                or manifest["subject"].get("digest") != subject:
            continue
        config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        referrer = {"digest": image.get_image_digest(),
                    "mediaType": manifest.get("mediaType") or image.image_manifest_media_type,
                    "size": len(image.image_manifest.encode("utf-8", "surrogatepass")), "artifactStatus": "ACTIVE"}
        artifact_type = manifest.get("artifactType") or config.get("mediaType")
        if artifact_type:
            referrer["artifactType"] = artifact_type
        if isinstance(manifest.get("annotations"), dict):
            referrer["annotations"] = manifest["annotations"]
        found.setdefault(referrer["digest"], referrer)
    return [found[d] for d in sorted(found)]


def _referrers_after(token, subject):
    """The last digest of the page a ListImageReferrers nextToken follows."""
    try:
        parsed = json.loads(base64.urlsafe_b64decode(token.encode()))
        if parsed["subject"] == subject and isinstance(parsed["after"], str):
            return parsed["after"]
    except (AttributeError, TypeError, ValueError, KeyError):
        pass
    raise ApiError("InvalidParameterException", "Invalid parameter at 'nextToken': the token is not valid")


def _with_image_digest(environ, call):
    """PutImage without imageDigest: ECR's digest, the sha256 of the manifest as sent (moto
    would hash the layer digests), put in the body moto reads. A given digest is kept."""
    req = call.request
    if not isinstance(req, dict) or req.get("imageDigest") or not isinstance(req.get("imageManifest"), str):
        return
    digest = "sha256:" + hashlib.sha256(req["imageManifest"].encode("utf-8", "surrogatepass")).hexdigest()
    body = json.dumps({**req, "imageDigest": digest}).encode()
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    environ.pop("HTTP_CONTENT_ENCODING", None)


def _with_key_spec(headers, body):
    """moto's GetPublicKey answer with KMS's KeySpec (moto sends only the deprecated
    CustomerMasterKeySpec)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return headers, body
    if "KeySpec" in answer or "CustomerMasterKeySpec" not in answer:
        return headers, body
    answer["KeySpec"] = answer["CustomerMasterKeySpec"]
    return [(k, v) for k, v in headers if k.lower() != "content-length"], json.dumps(answer).encode()


def _digest_list(req):
    digests = req.get("layerDigests")
    if not isinstance(digests, list) or not digests:
        raise _validation(None, "layerDigests", "Member must have length greater than or equal to 1")
    if len(digests) > 100:
        raise _validation(None, "layerDigests", "Member must have length less than or equal to 100")
    return digests


def _long(req, field):
    value = req.get(field)
    if value is None:
        raise _validation(None, field, "Member must not be null")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _validation(value, field, "Member must have value greater than or equal to 0")
    return value


def _blob(req, field):
    value = req.get(field)
    if not isinstance(value, str):
        raise _validation(None, field, "Member must not be null")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ApiError("SerializationException", f"{field} is not valid base64") from None


def _byte_range(header, size):
    """(first, last) of a single `bytes=` Range header, "unsatisfiable", or None to
    send everything (no header, or one S3 would ignore)."""
    match = RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0:
            return "unsatisfiable"
        return max(size - count, 0), size - 1
    first = int(first)
    if last and int(last) < first:  # an invalid range: S3 ignores it
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(int(last) if last else size - 1, size - 1)


def blob_call(environ):
    """A GET of a layer download URL: service ecr-blob, operation DownloadLayer, S3's
    protocol for faults; the request logged is what the URL names."""
    call = Call()
    call.service, call.operation, call.protocol = "ecr-blob", "DownloadLayer", "s3"
    parts = environ.get("PATH_INFO", "")[len(BLOB_PATH):].split("/")
    if len(parts) >= 4 and all(parts):
        call.request = {"registryId": parts[0], "region": parts[1],
                        "repositoryName": unquote("/".join(parts[2:-1])), "layerDigest": unquote(parts[-1])}
        if environ.get("HTTP_RANGE"):
            call.request["range"] = environ["HTTP_RANGE"]
    return call


def run_wsgi(app, environ):
    """Run a WSGI app to completion: (status, headers, body)."""
    started = {}
    chunks = []

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(started["status"].split()[0]), list(started["headers"]), b"".join(chunks)


def cut_body(environ, body):
    """Send the headers and the first half of the body, then reset the connection: a
    download that breaks off midway."""
    yield body[: len(body) // 2]
    reset_connection(environ)
    raise ConnectionResetError("connection cut mid-body on purpose")  # werkzeug stays quiet


def reset_connection(environ):
    """Drop the client's TCP connection with a RST and no response.

    SO_LINGER {1, 0} makes the close send a RST. The socket's descriptor is
    swapped for one end of a dead socket pair rather than closed, so werkzeug's
    own later reads see EOF and its writes fail quietly instead of touching a
    descriptor number that another thread may have reused.
    """
    sock = environ["werkzeug.socket"]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    left, right = socket.socketpair()
    os.dup2(left.fileno(), sock.fileno())  # closes the connection: RST
    left.close()
    right.close()


class QuietHandler(WSGIRequestHandler):
    """No access log: stderr is for real errors only."""

    def log_request(self, code="-", size="-"):
        pass


def _exit_on_stdin_eof():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description="Local AWS emulator (moto behind a recording, "
                                                 "fault-injecting front).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="keep running when stdin reaches EOF (manual runs)")
    parser.add_argument("--warm", action="store_true",
                        help="load moto's backends before READY (steadier first-call latency, slower start)")
    args = parser.parse_args()
    ready = sys.stdout
    sys.stdout = sys.stderr  # whatever moto prints must not reach the harness's stdout
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    app = LocalAws()
    if args.warm:
        app.warm_up(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    if not args.no_stdin_watch:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    ready.write(f"LOCAL_AWS_READY port={server.server_port}\n")
    ready.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
